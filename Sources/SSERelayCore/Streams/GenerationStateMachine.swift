/// The lifecycle of one generation (docs/protocol.md, "Generations") as a value: each input returns the
/// ``Action`` the I/O code carries out, so every transition is testable without sockets or
/// clocks.
///
/// ```
/// active ──last client leaves──▶ lingering ──linger over or refused──▶ failed (upstream cancelled)
///   │ ▲ ◀──────client joins───────────┘
///   │ ├──upstream ends cleanly──▶ finished ──retainSeconds, no client left──▶ discarded
///   │ └──upstream fails─────────▶ failed   ──retainSeconds, no client left──▶ discarded
///   └──last client leaves before any event was delivered──▶ discarded (upstream cancelled)
/// ```
///
/// `active` and `lingering` cover the time before the upstream's response head too: waiting
/// clients count like any others.
///
/// Retention bounds how long an ended generation waits for clients to come back, never how long
/// the clients still attached have to read it: when `retainSeconds` passes while one is still
/// writing the last events (a short or zero retention, a slow reader), the generation is
/// discarded when the last of them leaves. Only eviction, which frees memory the relay needs,
/// discards it under their feet.
///
/// Lingering is for a client that saw part of an answer and may come back for the rest. A
/// generation whose clients all left before any event reached one of them is abandoned at once:
/// nobody holds a position in it, and a request that connects and closes at once must not cost
/// the backend a completion that runs for the whole linger time. That is what the backend
/// would have done without the relay (it aborts a completion whose client went away), and the
/// next request for the key simply starts again.
public struct GenerationStateMachine: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// The upstream is open and clients are attached.
        case active
        /// The upstream is open and no client is attached.
        case lingering
        /// The upstream ended cleanly; retained for resumption.
        case finished
        /// The upstream was reset, timed out or cancelled; retained for resumption.
        case failed
        /// Dropped from the registry; no transition leaves this state.
        case discarded
    }

    /// What the I/O code does after a transition.
    public enum Action: Sendable, Hashable {
        case none
        /// Start the linger timer (`upstreamLingerSeconds`).
        case startLingerTimer(seconds: Double)
        /// A client came back: cancel the linger timer.
        case cancelLingerTimer
        /// Nobody came back: close the upstream request, then start retention.
        case cancelUpstream(retainSeconds: Double)
        /// The upstream is over (stop any linger timer): keep the events for `retainSeconds`.
        case startRetentionTimer(seconds: Double)
        /// Remove the generation and free its buffer.
        case discard
        /// Nobody received anything: close the upstream request and remove the generation
        /// at once, without retaining it.
        case abandonUpstream
    }

    public private(set) var state = State.active
    public private(set) var clientCount = 0
    /// Whether any event of this generation was written to a client.
    public private(set) var hasDelivered = false
    /// `upstreamLingerSeconds`; `nil` runs the upstream to completion with no client.
    public let lingerSeconds: Double?
    public let retainSeconds: Double
    /// Whether `retainSeconds` passed while clients were still attached.
    public private(set) var retentionIsOver = false

    public init(lingerSeconds: Double?, retainSeconds: Double) {
        self.lingerSeconds = lingerSeconds
        self.retainSeconds = retainSeconds
    }

    /// Whether the upstream request is still open.
    public var isUpstreamOpen: Bool { self.state == .active || self.state == .lingering }

    public mutating func clientJoined() -> Action {
        self.clientCount += 1
        guard self.state == .lingering else { return .none }
        self.state = .active
        return self.lingerSeconds == nil ? .none : .cancelLingerTimer
    }

    public mutating func clientLeft() -> Action {
        self.clientCount = max(0, self.clientCount - 1)
        if self.retentionIsOver, self.clientCount == 0, self.state == .finished || self.state == .failed {
            self.state = .discarded
            return .discard
        }
        guard self.state == .active, self.clientCount == 0 else { return .none }
        guard self.hasDelivered else {
            self.state = .discarded
            return .abandonUpstream
        }
        self.state = .lingering
        return self.lingerSeconds.map { .startLingerTimer(seconds: $0) } ?? .none
    }

    /// An event was written to a client: from now on the generation is worth lingering for.
    public mutating func eventDelivered() {
        self.hasDelivered = true
    }

    public mutating func lingerExpired() -> Action {
        guard self.state == .lingering else { return .none }
        self.state = .failed
        return .cancelUpstream(retainSeconds: self.retainSeconds)
    }

    /// The relay's lingering budget (global or per client address) is spent: the generation
    /// that just began to linger is cancelled at once, as if its linger time were over.
    public mutating func lingerRefused() -> Action {
        self.lingerExpired()
    }

    public mutating func upstreamEnded() -> Action {
        self.endUpstream(as: .finished)
    }

    public mutating func upstreamFailed() -> Action {
        self.endUpstream(as: .failed)
    }

    /// The upstream answered with something that is not an event stream: the answer goes to
    /// the waiting clients and the generation is not retained.
    public mutating func upstreamRejected() -> Action {
        guard self.state != .discarded else { return .none }
        self.state = .discarded
        return .discard
    }

    /// `retainSeconds` passed since the upstream ended: discarded now, or when the last client
    /// still attached leaves.
    public mutating func retentionExpired() -> Action {
        guard self.state == .finished || self.state == .failed else { return .none }
        guard self.clientCount == 0 else {
            self.retentionIsOver = true
            return .none
        }
        self.state = .discarded
        return .discard
    }

    /// Dropped to free memory (`limits.replayMemoryBytes`) before its retention ended, clients
    /// or not.
    public mutating func evicted() -> Action {
        guard self.state == .finished || self.state == .failed else { return .none }
        self.state = .discarded
        return .discard
    }

    /// The upstream closed; a linger timer that may be running is moot, and the I/O code
    /// cancels it with every upstream ending.
    private mutating func endUpstream(as ending: State) -> Action {
        guard self.isUpstreamOpen else { return .none }
        self.state = ending
        return .startRetentionTimer(seconds: self.retainSeconds)
    }
}
