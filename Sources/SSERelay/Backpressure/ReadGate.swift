/// Decides whether a channel may read, for handlers that hold back `read()` to push back on
/// their peer.
///
/// Reading is paused while any reason holds; a `read()` requested meanwhile is remembered and
/// issued when the last reason clears. The gate is a value owned by one handler on one event
/// loop; the handler carries out what ``resume(_:)`` returns.
struct ReadGate {
    /// Why reading is paused. Several can hold at once.
    struct Reasons: OptionSet {
        let rawValue: UInt8

        /// The peer channel cannot take more bytes.
        static let peerUnwritable = Reasons(rawValue: 1 << 0)
        /// Parts are buffered while the peer is not attached yet.
        static let peerNotReady = Reasons(rawValue: 1 << 1)
        /// A pipelined request waits until the current response is done.
        static let pipelined = Reasons(rawValue: 1 << 2)
    }

    private(set) var reasons: Reasons = []
    private var hasPendingRead = false

    var isPaused: Bool { !self.reasons.isEmpty }

    /// Called for an outbound `read()`: whether to pass it on now. When not, it is remembered.
    mutating func shouldRead() -> Bool {
        if self.isPaused {
            self.hasPendingRead = true
            return false
        }
        return true
    }

    mutating func pause(_ reason: Reasons) {
        self.reasons.insert(reason)
    }

    /// Clears `reason`; returns whether a remembered `read()` must be issued now.
    mutating func resume(_ reason: Reasons) -> Bool {
        self.reasons.remove(reason)
        guard !self.isPaused, self.hasPendingRead else { return false }
        self.hasPendingRead = false
        return true
    }
}
