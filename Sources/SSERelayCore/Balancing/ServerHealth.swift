public import NIOCore

/// Whether one upstream server takes traffic: the passive and active health of
/// `upstream.health`, as a state machine fed by what happens to real requests and checks.
///
/// - **In** with a count of failures in a row. A success clears the count; `maxFails` failures
///   take the server **out** until `failTimeoutSeconds` from the last one.
/// - **Out** until a time. Once it passes, the server is on **trial**: it takes traffic again,
///   and its next outcome decides: a success puts it back in, a failure takes it out again at
///   once, for another `failTimeoutSeconds`.
/// - **Failing its check**: the active check failed; the server stays out, whatever real traffic
///   does (it gets none), until a check passes, which puts it back in with a clean count.
///
/// A value type with no clock of its own: every method that depends on time is given the time,
/// so every transition is tested directly.
public struct ServerHealth: Sendable, Hashable {
    /// Where the server stands.
    public enum State: Sendable, Hashable {
        /// Taking traffic, with this many failures in a row behind it.
        case inRotation(failures: Int)
        /// Out until the time; on trial after it.
        case out(until: NIODeadline)
        /// Out until an active check passes.
        case failingCheck
    }

    /// What a recorded outcome changed, for the log and the metrics.
    public enum Transition: Sendable, Hashable {
        /// The server was taken out (it was in, or on trial).
        case wentOut
        /// The server is back in.
        case cameBack
    }

    public private(set) var state: State = .inRotation(failures: 0)
    /// `upstream.health.maxFails`.
    public let maxFails: Int
    /// `upstream.health.failTimeoutSeconds`.
    public let failTimeout: TimeAmount

    public init(maxFails: Int, failTimeout: TimeAmount) {
        self.maxFails = max(1, maxFails)
        self.failTimeout = failTimeout
    }

    /// The first time the server takes traffic: `now`-independent, so a reader can compare it
    /// with its own clock without a lock. `.uptimeNanoseconds(0)` while in; `.distantFuture`
    /// while failing its check.
    public var takesTrafficFrom: NIODeadline {
        switch self.state {
        case .inRotation: return .uptimeNanoseconds(0)
        case .out(let until): return until
        case .failingCheck: return .distantFuture
        }
    }

    /// Whether the server takes traffic at `now` (in, or on trial).
    public func takesTraffic(at now: NIODeadline) -> Bool {
        now >= self.takesTrafficFrom
    }

    /// A request to the server failed (connect, reset, timeout, `5xx` on an idempotent request).
    public mutating func recordFailure(at now: NIODeadline) -> Transition? {
        switch self.state {
        case .inRotation(let failures) where failures + 1 >= self.maxFails:
            self.state = .out(until: now + self.failTimeout)
            return .wentOut
        case .inRotation(let failures):
            self.state = .inRotation(failures: failures + 1)
            return nil
        case .out(let until) where now >= until:
            // The trial failed.
            self.state = .out(until: now + self.failTimeout)
            return .wentOut
        case .out:
            // A request that started before the server went out; it is out already.
            return nil
        case .failingCheck:
            return nil
        }
    }

    /// A request to the server succeeded.
    public mutating func recordSuccess(at now: NIODeadline) -> Transition? {
        switch self.state {
        case .inRotation(failures: 0):
            return nil
        case .inRotation:
            self.state = .inRotation(failures: 0)
            return nil
        case .out(let until) where now >= until:
            self.state = .inRotation(failures: 0)
            return .cameBack
        case .out, .failingCheck:
            // A request that started before the server went out says nothing about it now.
            return nil
        }
    }

    /// An active check passed or failed.
    public mutating func recordCheck(passed: Bool) -> Transition? {
        switch (self.state, passed) {
        case (.failingCheck, true), (.out, true):
            self.state = .inRotation(failures: 0)
            return .cameBack
        case (.inRotation, true), (.failingCheck, false):
            return nil
        case (.inRotation, false):
            self.state = .failingCheck
            return .wentOut
        case (.out, false):
            self.state = .failingCheck
            return nil
        }
    }
}
