import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SSERelayCore

/// One upstream stream request and its events, shared by every client of its key: a
/// generation, named by the token its relay ids start with.
///
/// The upstream side (``GenerationUpstream``) runs on the generation's own event loop; clients
/// (``StreamSubscriber``s) run on theirs and read the shared ``ReplayBuffer`` under the lock,
/// each at its own cursor. The lifecycle is the value ``GenerationStateMachine``; this class
/// only carries out its actions (timers, cancelling the upstream, leaving the registry).
///
/// Lock order: the registry's lock may be held while this one is taken, never the reverse.
final class Generation: Sendable {
    /// What the upstream answered, once it did.
    enum Answer: Sendable {
        /// `200 text/event-stream`: events follow.
        case stream(StreamAnswerHead)
        /// Anything else, relayed as it is to every waiting client and not retained.
        case rejected(HTTPResponseHead, body: ByteBuffer)
        /// No answer: the upstream could not be reached or was too slow.
        case failed(UpstreamError)
    }

    struct State {
        var machine: GenerationStateMachine
        var log: ReplayBuffer
        var answer: Answer?
        /// The upstream server the generation was placed on, once it was.
        var server: String?
        /// One per event loop with clients: at most as many as the loops, so a list, which
        /// every event hands out without copying.
        var groups: [SubscriberGroup] = []
        var lingerTimer: Scheduled<Void>?
        var retentionTimer: Scheduled<Void>?
        /// The latest comments, for clients that are live when they arrive (never replayed to
        /// a client that joins later, never counted as replay memory).
        /// Starts small and grows to ``Generation/retainedComments``: most streams carry few
        /// comments, and an idle generation should cost little memory.
        var comments = CircularBuffer<StreamComment>(initialCapacity: 2)
        var commentsReceived = 0
        /// Why the upstream ended abnormally, once it did.
        var failure: GenerationFailure?
    }

    /// How many recent comments are kept for clients still writing the events before them.
    static let retainedComments = 64

    let token: String
    let key: StreamKey
    let route: StreamRouteConfiguration
    /// The address of the client whose request started the generation, which its lingering
    /// is counted against (see ``LingeringBudget``).
    let starterAddress: String?
    let eventLoop: any EventLoop
    let createdAt = NIODeadline.now()
    let writer: EventStreamWriter
    /// The relay's logger; ``logger`` adds this generation's token.
    private let baseLogger: Logger
    private let state: NIOLockedValueBox<State>
    private let registry: StreamRegistry

    init(
        key: StreamKey, route: StreamRouteConfiguration, starterAddress: String?, eventLoop: any EventLoop,
        registry: StreamRegistry, logger: Logger
    ) {
        self.token = RelayEventID.makeGenerationToken()
        self.key = key
        self.route = route
        self.starterAddress = starterAddress
        self.eventLoop = eventLoop
        self.registry = registry
        self.writer = EventStreamWriter(dropsUpstreamRetry: route.retryMs != nil)
        self.baseLogger = logger
        self.state = NIOLockedValueBox(
            State(
                machine: GenerationStateMachine(
                    lingerSeconds: route.upstreamLingerSeconds, retainSeconds: route.retainSeconds),
                log: ReplayBuffer(maxEvents: route.replay.maxEvents, maxBytes: route.replay.maxBytes)
            )
        )
    }

    /// The logger for this generation's lines, which carry its token. Made when a line is
    /// logged, which is rare, rather than kept: a copy with metadata costs every idle stream a
    /// few hundred bytes.
    var logger: Logger {
        var logger = self.baseLogger
        logger[metadataKey: "generation"] = "\(self.token)"
        return logger
    }

    // MARK: Reading, for subscribers and the registry

    /// A consistent view for ``StreamRequestResolution``.
    func snapshot() -> GenerationSnapshot {
        self.state.withLockedValue { state in
            GenerationSnapshot(
                token: self.token, isUpstreamOpen: state.machine.isUpstreamOpen,
                hasFailed: state.machine.state == .failed, log: state.log)
        }
    }

    var answer: Answer? { self.state.withLockedValue { $0.answer } }

    /// Records the upstream server the generation's request goes to, for `/streams`.
    func placed(on server: String) {
        self.state.withLockedValue { $0.server = server }
    }

    var isUpstreamOpen: Bool { self.state.withLockedValue { $0.machine.isUpstreamOpen } }

    /// What a subscriber pulls under one lock acquisition.
    struct Batch {
        var entries: [ReplayBuffer.Entry]
        /// Comments newer than the subscriber's last, in arrival order.
        var comments: [StreamComment]
        var nextSequence: Int
        var isOpen: Bool
        /// How the upstream ended, once it did and the generation is still held.
        var ending: Ending?
    }

    /// How a generation's responses end.
    typealias Ending = GenerationEnding

    /// Up to `limit` events from `cursor` on, the comments after `commentsSeen`, the head
    /// sequence, and whether the upstream is still open. `nil` when events at the cursor were
    /// evicted.
    func batch(from cursor: Int, limit: Int, commentsSeen: Int) -> Batch? {
        self.state.withLockedValue { state in
            guard cursor >= state.log.firstSequence else { return nil }
            var entries: [ReplayBuffer.Entry] = []
            var sequence = cursor
            while sequence < state.log.nextSequence, entries.count < limit, let entry = state.log.entry(sequence) {
                entries.append(entry)
                sequence += 1
            }
            let comments =
                state.commentsReceived > commentsSeen ? state.comments.filter { $0.number > commentsSeen } : []
            return Batch(
                entries: entries, comments: comments, nextSequence: state.log.nextSequence,
                isOpen: state.machine.isUpstreamOpen, ending: state.ending)
        }
    }

    /// How many comments arrived so far: a new subscriber gets only later ones.
    var commentsReceived: Int { self.state.withLockedValue { $0.commentsReceived } }

    /// Bytes from `cursor` to the head; `nil` when the cursor was evicted.
    func lag(from cursor: Int) -> Int? {
        self.state.withLockedValue { $0.log.lag(from: cursor) }
    }

    // MARK: Clients

    /// Counts a client in; called by the registry under its lock when it resolves a request.
    /// Returns whether the generation stopped lingering.
    func clientJoined() -> Bool {
        let (action, wasLingering) = self.state.withLockedValue { state in
            let wasLingering = state.machine.state == .lingering
            return (state.machine.clientJoined(), wasLingering)
        }
        self.perform(action)
        return wasLingering
    }

    /// A client left. The registry decides, under its lock, whether the generation may linger
    /// (see ``StreamRegistry/clientLeft(_:)``); this carries out the outcome.
    func clientLeft() {
        self.perform(self.registry.clientLeft(self))
    }

    /// The client-left transition, for the registry: the action, and whether the generation
    /// began to linger (and so needs a place in the lingering budget).
    func applyClientLeft() -> (GenerationStateMachine.Action, startedLingering: Bool) {
        self.state.withLockedValue { state in
            let action = state.machine.clientLeft()
            return (action, state.machine.state == .lingering)
        }
    }

    /// The lingering budget is spent: the transition that cancels the generation, for the
    /// registry.
    func applyLingerRefused() -> GenerationStateMachine.Action {
        self.state.withLockedValue { state in
            state.recordingCancellation(state.machine.lingerRefused())
        }
    }

    /// A client was written its first event of this generation: from now on the generation is
    /// worth lingering for. Called once per client, not per event.
    func eventDelivered() {
        self.state.withLockedValue { $0.machine.eventDelivered() }
    }

    /// The group of `eventLoop`, created on first use.
    func group(for eventLoop: any EventLoop) -> SubscriberGroup {
        self.state.withLockedValue { state in
            if let group = state.groups.first(where: { $0.eventLoop === eventLoop }) {
                return group
            }
            let group = SubscriberGroup(eventLoop: eventLoop)
            state.groups.append(group)
            return group
        }
    }

    // MARK: Upstream, on the generation's loop

    /// The upstream answered.
    func upstreamAnswered(_ answer: Answer) {
        let (groups, action) = self.state.withLockedValue {
            state -> ([SubscriberGroup], GenerationStateMachine.Action) in
            state.answer = answer
            switch answer {
            case .stream:
                return (state.groups, .none)
            case .rejected, .failed:
                return (state.groups, state.machine.upstreamRejected())
            }
        }
        for group in groups {
            group.wake()
        }
        self.perform(action)
    }

    /// The relay's metrics.
    var metrics: RelayMetrics { self.registry.metrics }

    /// An event arrived, read from the upstream at `receivedAt`: encode it once, append it to
    /// the log, wake the subscribers.
    func received(_ event: ServerSentEvent, at receivedAt: NIODeadline) {
        let (groups, footprintChange, injectedID) = self.state.withLockedValue {
            state -> ([SubscriberGroup], Int, Bool) in
            let sequence = state.log.nextSequence
            let upstreamID = self.route.ids == .auto ? event.upstreamID : nil
            let relayID = upstreamID == nil ? RelayEventID(generation: self.token, sequence: sequence).description : nil
            let chunk = self.writer.encodeChunk(event, relayID: relayID)
            let footprintBefore = state.log.retainedFootprint
            state.log.append(id: upstreamID, chunk: chunk, receivedAt: receivedAt)
            return (state.groups, state.log.retainedFootprint - footprintBefore, upstreamID == nil)
        }
        self.metrics.eventReceived(idInjected: injectedID)
        self.registry.replayBytesChanged(by: footprintChange)
        for group in groups {
            group.wake()
        }
    }

    /// A comment line from the upstream: to live clients only, never buffered.
    func received(comment: [UInt8]) {
        let bytes = self.writer.comment(comment, allocator: ByteBufferAllocator())
        let groups = self.state.withLockedValue { state in
            state.commentsReceived += 1
            if state.comments.count == Generation.retainedComments {
                state.comments.removeFirst()
            }
            state.comments.append(
                StreamComment(bytes: bytes, position: state.log.nextSequence, number: state.commentsReceived))
            return state.groups
        }
        for group in groups {
            group.wake()
        }
    }

    /// The upstream ended: cleanly (`failure == nil`) or not, with `detail` for the log.
    func upstreamEnded(failure: GenerationFailure?, detail: String? = nil) {
        let (groups, action) = self.state.withLockedValue {
            state -> ([SubscriberGroup], GenerationStateMachine.Action) in
            state.lingerTimer?.cancel()
            state.lingerTimer = nil
            guard let failure else { return (state.groups, state.machine.upstreamEnded()) }
            state.failure = state.failure ?? failure
            return (state.groups, state.machine.upstreamFailed())
        }
        if let failure {
            self.logger.notice(
                "upstream stream failed",
                metadata: ["reason": "\(failure.rawValue)", "error": "\(detail ?? "-")", "key": "\(self.key)"])
        } else {
            self.logger.debug("upstream stream ended", metadata: ["key": "\(self.key)"])
        }
        if action != .none {
            self.registry.upstreamEnded(self)
        }
        for group in groups {
            group.wake()
        }
        self.perform(action)
    }

    /// Set by the upstream side once it has a connection to cancel.
    let upstreamCanceller = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)

    // MARK: Actions

    private func perform(_ action: GenerationStateMachine.Action) {
        switch action {
        case .none:
            return
        case .startLingerTimer(let seconds):
            let timer = self.eventLoop.scheduleTask(in: .fractionalSeconds(seconds)) { self.lingerExpired() }
            self.state.withLockedValue { state in
                state.lingerTimer?.cancel()
                state.lingerTimer = timer
            }
        case .cancelLingerTimer:
            self.state.withLockedValue { state in
                state.lingerTimer?.cancel()
                state.lingerTimer = nil
            }
        case .cancelUpstream(let retainSeconds):
            self.logger.info(
                "no client came back within the linger time, cancelling the upstream", metadata: ["key": "\(self.key)"])
            self.upstreamCanceller.withLockedValue { $0 }?()
            self.startRetention(seconds: retainSeconds)
        case .startRetentionTimer(let seconds):
            self.startRetention(seconds: seconds)
        case .discard:
            self.discard()
        case .abandonUpstream:
            self.logger.info(
                "every client left before any event reached one, cancelling the upstream",
                metadata: ["key": "\(self.key)"])
            self.metrics.generationAbandoned()
            self.upstreamCanceller.withLockedValue { $0 }?()
            self.discard()
        }
    }

    private func lingerExpired() {
        let action = self.state.withLockedValue { state in
            state.recordingCancellation(state.machine.lingerExpired())
        }
        if action != .none {
            self.registry.upstreamEnded(self)
        }
        self.perform(action)
        for group in self.state.withLockedValue({ $0.groups }) {
            group.wake()
        }
    }

    private func startRetention(seconds: Double) {
        let timer = self.eventLoop.scheduleTask(in: .fractionalSeconds(seconds)) {
            let action = self.state.withLockedValue { $0.machine.retentionExpired() }
            self.perform(action)
        }
        self.state.withLockedValue { state in
            state.retentionTimer?.cancel()
            state.retentionTimer = timer
        }
    }

    /// Drops the generation's events and leaves the registry.
    func discard() {
        self.registry.remove(self, freedBytes: self.freeEvents())
    }

    /// Drops the generation's events and stops its timers, for a registry that took it out of
    /// its map already; returns the memory freed, as the replay bound counts it.
    func freeEvents() -> Int {
        self.state.withLockedValue { state -> Int in
            state.retentionTimer?.cancel()
            state.lingerTimer?.cancel()
            _ = state.machine.evicted()
            let bytes = state.log.retainedFootprint
            state.log.removeAll()
            return bytes
        }
    }

    /// Frees the oldest event for the global replay bound; returns the memory freed (its
    /// footprint, as the bound counts it).
    func evictOldestEvent() -> Int {
        self.state.withLockedValue { state in
            let before = state.log.retainedFootprint
            state.log.evictOldest()
            return before - state.log.retainedFootprint
        }
    }

    var isEnded: Bool { self.state.withLockedValue { !$0.machine.isUpstreamOpen } }

    /// Clients counted in now.
    var clientCount: Int { self.state.withLockedValue { $0.machine.clientCount } }

    /// The generation as it stands, with its clients gathered from their loops.
    func inspect() -> EventLoopFuture<GenerationInspection> {
        let (inspection, groups) = self.state.withLockedValue { state -> (GenerationInspection, [SubscriberGroup]) in
            let inspection = GenerationInspection(
                token: self.token,
                key: self.key,
                state: state.machine.state,
                age: NIODeadline.now() - self.createdAt,
                events: state.log.nextSequence - 1,
                retainedEvents: state.log.count,
                bufferedBytes: state.log.retainedBytes,
                answer: state.answer,
                server: state.server,
                clients: []
            )
            return (inspection, state.groups)
        }
        let clients = EventLoopFuture.whenAllSucceed(groups.map { $0.inspectMembers() }, on: self.eventLoop)
        return clients.map { clients in
            var inspection = inspection
            inspection.clients = clients.flatMap { $0 }
            return inspection
        }
    }
}

extension Generation.State {
    /// `action`, the outcome of a transition by which the relay cancels the upstream (linger
    /// over or refused); when it did cancel, the failure its clients are told is `cancelled`.
    fileprivate mutating func recordingCancellation(
        _ action: GenerationStateMachine.Action
    ) -> GenerationStateMachine.Action {
        if action != .none {
            self.failure = self.failure ?? .cancelled
        }
        return action
    }

    /// How the generation's responses end, once its upstream is over; `nil` while it is open
    /// or after it was discarded.
    fileprivate var ending: Generation.Ending? {
        switch self.machine.state {
        case .finished: .finished
        case .failed: .failed(self.failure ?? .upstreamClosed)
        case .active, .lingering, .discarded: nil
        }
    }
}
