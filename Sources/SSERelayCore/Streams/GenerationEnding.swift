/// How the responses of a generation end once its upstream is over: what a client is sent
/// after the last event.
public enum GenerationEnding: Sendable, Hashable {
    /// The upstream's body completed: an id-only block with the end marker, so the reconnect
    /// that follows is answered `204`.
    case finished
    /// The upstream ended abnormally: the failure event, with the failure marker as its id.
    case failed(GenerationFailure)
}
