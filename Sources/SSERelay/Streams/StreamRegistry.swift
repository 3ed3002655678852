import Logging
import NIOConcurrencyHelpers
import NIOCore
import SSERelayCore
import Synchronization

/// Every generation the relay holds, by stream key, and the answer to each stream request.
///
/// Resolving a request and starting or joining a generation happen under one lock, so two
/// requests for one key can never both start an upstream. The same lock keeps the budgets that
/// protect the backend: the rate of new generations per client address and the number of
/// lingering generations (see ``LingeringBudget``), which is why a client leaving is decided
/// here too (``clientLeft(_:)``).
///
/// The registry also keeps the total of all replay buffers under `limits.replayMemoryBytes`:
/// ended generations are dropped first, oldest ended first, then the oldest events of open
/// ones, one of each in turn. Both orders are kept as generations start and end, so a
/// reclaim at the limit costs the same whatever the number of generations held.
///
/// Lock order: this lock may be held while a generation's is taken, never the reverse.
final class StreamRegistry: Sendable {
    private struct State {
        var generations: [StreamKey: [Generation]] = [:]
        /// The keys held, by the resource they name: where a new key finds the streams it would
        /// have joined but for a header's value.
        var keysByResource: [StreamKey.Resource: [StreamKey]] = [:]
        /// When a split was last logged, by header name (at most ``CollapseSplits/maximumHeaders``).
        var splitsLoggedAt: [String: NIODeadline] = [:]
        /// Generations held, across all keys.
        var count = 0
        var limits: LimitsConfiguration
        var lingering: LingeringBudget
        /// The generations counted in ``lingering``, with the address each is counted against.
        var lingeringGenerations: [ObjectIdentifier: LingeringEntry] = [:]
        var startRate: StreamStartRateLimiter
        /// Generations in the order their upstream ended: the first to go when memory is short.
        /// May still name generations discarded since (skipped when met, and compacted).
        var endedOrder = GenerationOrder<Generation>()
        /// Generations in the order they started: whose events go first when no ended
        /// generation is left to drop. May name ended or discarded ones (skipped likewise).
        var startOrder = GenerationOrder<Generation>()

        init(limits: LimitsConfiguration) {
            self.limits = limits
            self.lingering = LingeringBudget(
                maximum: limits.maxLingeringGenerations, maximumPerClient: limits.maxLingeringPerClient)
            self.startRate = StreamStartRateLimiter(
                perMinute: limits.streamStartsPerClientPerMinute, burst: limits.streamStartBurstPerClient)
        }

        /// Whether `generation` is still held.
        func holds(_ generation: Generation) -> Bool {
            self.generations[generation.key]?.contains { $0 === generation } ?? false
        }
    }

    private struct LingeringEntry {
        var client: String?
    }

    /// Bounds on counting and logging requests that header values kept apart.
    private enum CollapseSplits {
        /// Header names counted and logged under their own name; others count as `other`, so
        /// a client sending random header names cannot grow the metrics without bound.
        static let maximumHeaders = 64
        /// At most one log line per header in this time.
        static let logInterval = TimeAmount.seconds(60)
    }

    /// The registry's answer to a stream request.
    enum Admission {
        /// What to do, and the generation it concerns (a new one for `.start`, counted with
        /// this client; none for `.noContent`).
        case admitted(StreamRequestResolution, Generation?)
        /// A limit refused the request; the text says which, for the log.
        case refused(RelayMetrics.Limit, String)
        /// The client's address starts new generations too fast: `429`, retry after this many
        /// seconds.
        case rateLimited(retryAfterSeconds: Int)
    }

    private let state: NIOLockedValueBox<State>
    private let replayBytes = Atomic<Int>(0)
    private let replayMemoryLimitValue: Synchronization.Atomic<Int>
    let metrics: RelayMetrics
    private let logger: Logger

    /// `limits.replayMemoryBytes`, read on every event without the lock.
    var replayMemoryLimit: Int { self.replayMemoryLimitValue.load(ordering: .relaxed) }

    init(limits: LimitsConfiguration, metrics: RelayMetrics, logger: Logger) {
        self.state = NIOLockedValueBox(State(limits: limits))
        self.replayMemoryLimitValue = Synchronization.Atomic(limits.replayMemoryBytes)
        self.metrics = metrics
        self.logger = logger
    }

    /// Applies reloaded limits to requests from then on. Lingering generations and rate
    /// buckets carry over; a lowered replay limit reclaims at the next event.
    func apply(_ limits: LimitsConfiguration) {
        self.replayMemoryLimitValue.store(limits.replayMemoryBytes, ordering: .relaxed)
        self.state.withLockedValue { state in
            state.lingering.maximum = limits.maxLingeringGenerations
            state.lingering.maximumPerClient = limits.maxLingeringPerClient
            if limits.streamStartsPerClientPerMinute != state.limits.streamStartsPerClientPerMinute
                || limits.streamStartBurstPerClient != state.limits.streamStartBurstPerClient
            {
                state.startRate = StreamStartRateLimiter(
                    perMinute: limits.streamStartsPerClientPerMinute, burst: limits.streamStartBurstPerClient)
            }
            state.limits = limits
        }
    }

    /// What to do with a stream request from `client` (its address, for the per-client
    /// budgets), within `limits.maxGenerations`, `limits.maxClientsPerGeneration` and
    /// `limits.streamStartsPerClientPerMinute`. A generation it starts sends `upstream` at
    /// once; without one (tests that feed a generation themselves) it waits for its events.
    func resolve(
        key: StreamKey,
        route: StreamRouteConfiguration,
        lastEventID: String?,
        client: String?,
        eventLoop: any EventLoop,
        upstream: GenerationUpstreamRequest? = nil
    ) -> Admission {
        let (admission, displaced) = self.state.withLockedValue { state -> (Admission, Generation?) in
            let generations = state.generations[key] ?? []
            let resolution = StreamRequestResolution.resolve(
                lastEventID: lastEventID,
                generations: generations.map { $0.snapshot() },
                joinFrom: route.joinFrom,
                afterFailure: route.afterFailure
            )
            var displaced: Generation?
            let generation: Generation?
            switch resolution {
            case .noContent:
                self.metrics.record(.noContent)
                generation = nil
            case .resume(let token, _), .join(let token, _, _):
                generation = generations.last { $0.token == token }
                let maximum = state.limits.maxClientsPerGeneration
                if let generation, generation.clientCount >= maximum {
                    return (
                        .refused(
                            .maxClientsPerGeneration,
                            "the stream has \(maximum) clients (limits.maxClientsPerGeneration)"),
                        nil
                    )
                }
            case .start:
                if let client,
                    case .limited(let retryAfter) = state.startRate.admit(
                        client, now: NIODeadline.now().uptimeNanoseconds)
                {
                    return (.rateLimited(retryAfterSeconds: retryAfter), nil)
                }
                if state.count >= state.limits.maxGenerations {
                    guard let oldest = Self.removeOldestEnded(from: &state) else {
                        return (
                            .refused(
                                .maxGenerations,
                                "the relay holds \(state.limits.maxGenerations) open streams (limits.maxGenerations)"),
                            nil
                        )
                    }
                    displaced = oldest
                }
                self.countSplit(of: key, in: &state)
                let new = Generation(
                    key: key, route: route, starterAddress: client, eventLoop: eventLoop, registry: self,
                    logger: self.logger)
                if state.generations[key] == nil {
                    state.keysByResource[key.resource, default: []].append(key)
                }
                state.generations[key, default: []].append(new)
                state.count += 1
                state.startOrder.append(new)
                Self.compact(&state)
                generation = new
            }
            if let generation, generation.clientJoined() {
                Self.stopLingering(generation, in: &state)
            }
            return (.admitted(resolution, generation), displaced)
        }
        if let displaced {
            // Out of the map already; this frees its events and stops its timers.
            self.metrics.limitReached(.maxGenerations)
            displaced.discard()
        }
        if let upstream, case .admitted(.start(let forwardedLastEventID, _), let generation?) = admission {
            // Outside the lock: the upstream request starts on the generation's loop, which is
            // the caller's.
            GenerationUpstream(generation: generation, request: upstream, forwardedLastEventID: forwardedLastEventID)
                .start()
        }
        return admission
    }

    /// Whether a stream request would start a new generation here, as ``resolve`` would decide
    /// it now, without acting on it: in a cluster, such a request first claims its key.
    func wouldStart(key: StreamKey, route: StreamRouteConfiguration, lastEventID: String?) -> Bool {
        self.state.withLockedValue { state in
            let resolution = StreamRequestResolution.resolve(
                lastEventID: lastEventID,
                generations: (state.generations[key] ?? []).map { $0.snapshot() },
                joinFrom: route.joinFrom,
                afterFailure: route.afterFailure
            )
            if case .start = resolution { return true }
            return false
        }
    }

    /// The newest generation of every key held: in a cluster, the keys whose leases the relay
    /// renews.
    func newestGenerations() -> [Generation] {
        self.state.withLockedValue { state in state.generations.values.compactMap(\.last) }
    }

    /// Counts (and logs, at most once a minute per header) a key that starts a generation of
    /// its own while one of the same route, parameters and query is held: the headers that
    /// differ are what kept them apart, and an operator behind an edge that adds a header per
    /// request needs to see at once which one split their streams.
    private func countSplit(of key: StreamKey, in state: inout State) {
        guard let held = state.keysByResource[key.resource]?.last, held != key else { return }
        let now = NIODeadline.now()
        for header in key.headersDiffering(from: held) {
            let known = state.splitsLoggedAt[header] != nil
            let name = known || state.splitsLoggedAt.count < CollapseSplits.maximumHeaders ? header : "other"
            self.metrics.collapsePrevented(header: name)
            if let last = state.splitsLoggedAt[name], now - last < CollapseSplits.logInterval { continue }
            state.splitsLoggedAt[name] = now
            self.logger.notice(
                "a stream request started its own upstream: a request header differs from a held stream of the same conversation",
                metadata: [
                    "header": "\(name)", "route": "\(key.route)",
                    "hint": "add it to the route's ignoreHeaders if it cannot carry identity",
                ])
        }
    }

    /// A client of `generation` left: the state machine's transition, with the lingering
    /// budget applied. Decided under the registry's lock so that no request can join between
    /// the last client leaving and the decision, and so that an abandoned generation is out of
    /// the map before anyone can find it. Returns the action the generation carries out.
    func clientLeft(_ generation: Generation) -> GenerationStateMachine.Action {
        let (action, refusal) = self.state.withLockedValue {
            state -> (GenerationStateMachine.Action, RelayMetrics.Limit?) in
            let (action, startedLingering) = generation.applyClientLeft()
            if action == .abandonUpstream {
                Self.take(generation, from: &state)
                return (action, nil)
            }
            guard startedLingering else { return (action, nil) }
            let client = generation.starterAddress
            if state.lingering.admit(client: client) {
                state.lingeringGenerations[ObjectIdentifier(generation)] = LingeringEntry(client: client)
                return (action, nil)
            }
            let refusal: RelayMetrics.Limit =
                state.lingering.count >= state.lingering.maximum ? .maxLingeringGenerations : .maxLingeringPerClient
            let cancel = generation.applyLingerRefused()
            if cancel != .none {
                state.endedOrder.append(generation)
            }
            return (cancel, refusal)
        }
        if let refusal {
            self.metrics.limitReached(refusal)
            self.logger.notice(
                "lingering budget spent, cancelling the upstream of a stream nobody listens to",
                metadata: ["key": "\(generation.key)", "limit": "\(refusal.rawValue)"])
        }
        return action
    }

    /// `generation`'s upstream ended (or was cancelled): it no longer lingers, and it is the
    /// newest ended generation for the replay bound.
    func upstreamEnded(_ generation: Generation) {
        self.state.withLockedValue { state in
            Self.stopLingering(generation, in: &state)
            guard state.holds(generation) else { return }
            state.endedOrder.append(generation)
            Self.compact(&state)
        }
    }

    private static func stopLingering(_ generation: Generation, in state: inout State) {
        guard let entry = state.lingeringGenerations.removeValue(forKey: ObjectIdentifier(generation)) else { return }
        state.lingering.release(client: entry.client)
    }

    /// Takes the generation that ended first out of the map, to make room at
    /// `limits.maxGenerations`.
    private static func removeOldestEnded(from state: inout State) -> Generation? {
        while let oldest = state.endedOrder.popFirst() {
            if Self.take(oldest, from: &state) {
                return oldest
            }
        }
        return nil
    }

    /// Removes `generation` from the map; returns whether it was there.
    @discardableResult
    private static func take(_ generation: Generation, from state: inout State) -> Bool {
        guard let index = state.generations[generation.key]?.firstIndex(where: { $0 === generation }) else {
            return false
        }
        state.generations[generation.key]?.remove(at: index)
        if state.generations[generation.key]?.isEmpty ?? false {
            state.generations[generation.key] = nil
            let resource = generation.key.resource
            state.keysByResource[resource]?.removeAll { $0 == generation.key }
            if state.keysByResource[resource]?.isEmpty ?? false {
                state.keysByResource[resource] = nil
            }
        }
        state.count -= 1
        Self.stopLingering(generation, in: &state)
        return true
    }

    /// Drops the generations that are no longer held from the two orders once they hold more
    /// than twice the generations held: linear, and run at most once per that many changes.
    private static func compact(_ state: inout State) {
        let bound = 2 * state.count + 64
        // What the map holds, read while the orders change (a copy on write: nothing is copied).
        let held = state
        if state.endedOrder.count > bound {
            state.endedOrder.retain { held.holds($0) }
        }
        if state.startOrder.count > bound {
            state.startOrder.retain { held.holds($0) && !$0.isEnded }
        }
    }

    /// Every generation, for inspection.
    var all: [Generation] {
        self.state.withLockedValue { $0.generations.values.flatMap { $0 } }
    }

    /// Lingering generations now, for tests and inspection.
    var lingeringCount: Int { self.state.withLockedValue { $0.lingering.count } }

    /// Closes the upstream of every open generation: the end of a shutdown, once the clients
    /// are gone or the grace period is over.
    func cancelAll() {
        for generation in self.all where generation.isUpstreamOpen {
            generation.upstreamCanceller.withLockedValue { $0 }?()
        }
    }

    /// Memory held by all replay buffers, as ``ReplayBuffer/retainedFootprint`` estimates it.
    var totalReplayBytes: Int { self.replayBytes.load(ordering: .relaxed) }

    /// Called by a generation that discarded itself.
    /// A generation that was taken out at the generation limit is gone from the map already;
    /// its bytes are freed all the same.
    func remove(_ generation: Generation, freedBytes: Int) {
        self.state.withLockedValue { state in
            _ = Self.take(generation, from: &state)
        }
        self.replayBytes.wrappingSubtract(freedBytes, ordering: .relaxed)
    }

    /// Called by a generation whose buffer grew or shrank; enforces `replayMemoryBytes`.
    func replayBytesChanged(by delta: Int) {
        let total = self.replayBytes.wrappingAdd(delta, ordering: .relaxed).newValue
        guard total > self.replayMemoryLimit else { return }
        self.reclaim()
    }

    /// Drops ended generations (the one that ended first first), then the oldest events of
    /// open ones (one event of each in turn, from the oldest generation on), until the replay
    /// buffers fit `replayMemoryBytes`.
    ///
    /// Amortised constant time per event at the limit: each step drops a generation or an
    /// event and moves its generation to the back of the order, or moves one with nothing to
    /// evict there (at most once per generation per pass), or skips a stale entry that is then
    /// gone for good.
    private func reclaim() {
        self.metrics.limitReached(.replayMemoryBytes)
        let limit = self.replayMemoryLimit
        var dropped: [Generation] = []
        self.state.withLockedValue { state in
            while self.totalReplayBytes > limit, let oldest = state.endedOrder.popFirst() {
                guard Self.take(oldest, from: &state) else { continue }
                dropped.append(oldest)
                self.replayBytes.wrappingSubtract(oldest.freeEvents(), ordering: .relaxed)
            }
            var emptyInARow = 0
            while self.totalReplayBytes > limit, emptyInARow < state.startOrder.count,
                let oldest = state.startOrder.first()
            {
                guard state.holds(oldest), !oldest.isEnded else {
                    _ = state.startOrder.popFirst()
                    continue
                }
                let freed = oldest.evictOldestEvent()
                if freed > 0 {
                    emptyInARow = 0
                    self.replayBytes.wrappingSubtract(freed, ordering: .relaxed)
                } else {
                    emptyInARow += 1
                }
                // Round robin: every open generation gives up its oldest event in turn, so the
                // buffers shrink evenly and none is emptied up to the event its live clients
                // are about to be sent (which would drop them as fallen behind).
                state.startOrder.rotateFirst()
            }
        }
        for generation in dropped {
            self.logger.notice(
                "replay memory full, dropping an ended generation", metadata: ["key": "\(generation.key)"])
        }
    }
}
