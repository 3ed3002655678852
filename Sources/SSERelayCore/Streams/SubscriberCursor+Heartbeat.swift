public import NIOCore

extension SubscriberCursor {
    /// What the subscriber does about heartbeats after a check.
    public enum HeartbeatAction: Sendable, Hashable {
        /// No heartbeats: the route sends none, or the client left.
        case none
        /// Check again in `delay`.
        case scheduleCheck(in: TimeAmount)
        /// Write a heartbeat (``EventStreamWriter/heartbeat``) and flush it, then check again
        /// in `nextCheckIn`.
        case sendHeartbeat(nextCheckIn: TimeAmount)
    }

    /// When the subscriber first checks for a quiet client, once it started.
    public var firstHeartbeatCheck: HeartbeatAction {
        self.heartbeatInterval.map { .scheduleCheck(in: $0) } ?? .none
    }

    /// A heartbeat check at `now`: a client sent nothing for the interval gets a heartbeat; one
    /// written to since is checked again when the interval since that write is over. Before the
    /// upstream answered there is no response to write into, and the check simply comes back.
    public mutating func heartbeatCheck(now: NIODeadline) -> HeartbeatAction {
        guard self.state != .stopped, let interval = self.heartbeatInterval else { return .none }
        let quiet = now - self.lastWrite
        guard quiet >= interval else { return .scheduleCheck(in: interval - quiet) }
        guard self.state != .awaitingAnswer else { return .scheduleCheck(in: interval) }
        self.lastWrite = now
        return .sendHeartbeat(nextCheckIn: interval)
    }
}
