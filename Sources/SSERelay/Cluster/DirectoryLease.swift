/// A lease this relay holds, as a renewal writes it: the key, and the newest generation of the
/// key here with its state, so that the directory shows which generation each relay serves.
struct DirectoryLease: Sendable, Hashable {
    /// ``SSERelayCore/StreamKey/directoryID`` of the key.
    var key: String
    /// The token of the newest generation of the key here, or `nil` when it has not started.
    var generation: String?
    /// What the directory says of that generation.
    var state: State

    /// The states the directory records, in its `state` column.
    enum State: String, Sendable, Hashable {
        /// Claimed; the generation has not started yet.
        case claimed
        /// The upstream is open.
        case active
        /// The upstream ended cleanly; the events are retained for resumption.
        case finished
        /// The upstream failed or was cancelled; the events are retained for resumption.
        case failed
    }
}
