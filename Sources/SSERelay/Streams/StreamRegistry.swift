import Logging
import NIOConcurrencyHelpers
import NIOCore
import SSERelayCore
import Synchronization

/// Every generation the relay holds, by stream key, and the answer to each stream request.
///
/// Resolving a request and starting or joining a generation happen under one lock, so two
/// requests for one key can never both start an upstream. The registry also keeps the total
/// of all replay buffers under `limits.replayMemoryBytes`: ended generations are dropped
/// first, oldest first, then the oldest events of open ones.
final class StreamRegistry: Sendable {
    private struct State {
        var generations: [StreamKey: [Generation]] = [:]
        /// Generations held, across all keys.
        var count = 0
    }

    /// The registry's answer to a stream request.
    enum Admission {
        /// What to do, and the generation it concerns (a new one for `.start`, counted with
        /// this client; none for `.noContent`).
        case admitted(StreamRequestResolution, Generation?)
        /// A limit refused the request; the text says which, for the client and the log.
        case refused(RelayMetrics.Limit, String)
    }

    private let state = NIOLockedValueBox(State())
    private let replayBytes = Atomic<Int>(0)
    private let replayMemoryLimitValue: Synchronization.Atomic<Int>
    let metrics: RelayMetrics
    private let logger: Logger
    private let maxGenerationsValue: Synchronization.Atomic<Int>
    private let maxClientsPerGenerationValue: Synchronization.Atomic<Int>

    /// `limits.maxGenerations`; a reload changes it for requests from then on.
    var maxGenerations: Int {
        get { self.maxGenerationsValue.load(ordering: .relaxed) }
        set { self.maxGenerationsValue.store(newValue, ordering: .relaxed) }
    }

    /// `limits.maxClientsPerGeneration`; a reload changes it for requests from then on.
    var maxClientsPerGeneration: Int {
        get { self.maxClientsPerGenerationValue.load(ordering: .relaxed) }
        set { self.maxClientsPerGenerationValue.store(newValue, ordering: .relaxed) }
    }

    /// `limits.replayMemoryBytes`; a reload that lowers it reclaims at the next event.
    var replayMemoryLimit: Int {
        get { self.replayMemoryLimitValue.load(ordering: .relaxed) }
        set { self.replayMemoryLimitValue.store(newValue, ordering: .relaxed) }
    }

    init(limits: LimitsConfiguration, metrics: RelayMetrics, logger: Logger) {
        self.replayMemoryLimitValue = Synchronization.Atomic(limits.replayMemoryBytes)
        self.maxGenerationsValue = Synchronization.Atomic(limits.maxGenerations)
        self.maxClientsPerGenerationValue = Synchronization.Atomic(limits.maxClientsPerGeneration)
        self.metrics = metrics
        self.logger = logger
    }

    /// What to do with a stream request, within `limits.maxGenerations` and
    /// `limits.maxClientsPerGeneration`.
    func resolve(
        key: StreamKey,
        route: StreamRouteConfiguration,
        lastEventID: String?,
        eventLoop: any EventLoop
    ) -> Admission {
        let (admission, displaced) = self.state.withLockedValue { state -> (Admission, Generation?) in
            let generations = state.generations[key] ?? []
            let resolution = StreamRequestResolution.resolve(
                lastEventID: lastEventID,
                generations: generations.map { $0.snapshot() },
                joinFrom: route.joinFrom
            )
            var displaced: Generation?
            let generation: Generation?
            switch resolution {
            case .noContent:
                self.metrics.record(.noContent)
                generation = nil
            case .resume(let token, _), .join(let token, _, _):
                generation = generations.last { $0.token == token }
                if let generation, generation.clientCount >= self.maxClientsPerGeneration {
                    return (
                        .refused(
                            .maxClientsPerGeneration,
                            "the stream has \(self.maxClientsPerGeneration) clients (limits.maxClientsPerGeneration)"),
                        nil
                    )
                }
            case .start:
                if state.count >= self.maxGenerations {
                    guard let oldest = Self.removeOldestEnded(from: &state) else {
                        return (
                            .refused(
                                .maxGenerations,
                                "the relay holds \(self.maxGenerations) open streams (limits.maxGenerations)"),
                            nil
                        )
                    }
                    displaced = oldest
                }
                let new = Generation(key: key, route: route, eventLoop: eventLoop, registry: self, logger: self.logger)
                state.generations[key, default: []].append(new)
                state.count += 1
                generation = new
            }
            generation?.clientJoined()
            return (.admitted(resolution, generation), displaced)
        }
        if let displaced {
            // Out of the map already; this frees its events and stops its timers.
            self.metrics.limitReached(.maxGenerations)
            displaced.discard()
        }
        return admission
    }

    /// Takes the ended generation created first out of the map, to make room at
    /// `limits.maxGenerations`. Linear in the generations held, and only run at the limit.
    private static func removeOldestEnded(from state: inout State) -> Generation? {
        var oldest: Generation?
        for generation in state.generations.values.joined() where generation.isEnded {
            if oldest.map({ generation.createdAt < $0.createdAt }) ?? true {
                oldest = generation
            }
        }
        guard let oldest else { return nil }
        Self.take(oldest, from: &state)
        return oldest
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
        }
        state.count -= 1
        return true
    }

    /// Every generation, for inspection.
    var all: [Generation] {
        self.state.withLockedValue { $0.generations.values.flatMap { $0 } }
    }

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

    /// Drops ended generations (oldest first), then the oldest events of open ones, until the
    /// replay buffers fit `replayMemoryBytes`. Bounded: every pass frees something or stops.
    private func reclaim() {
        self.metrics.limitReached(.replayMemoryBytes)
        let generations = self.all.sorted { $0.createdAt < $1.createdAt }
        for generation in generations where generation.isEnded {
            guard self.totalReplayBytes > self.replayMemoryLimit else { return }
            self.logger.notice(
                "replay memory full, dropping an ended generation", metadata: ["key": "\(generation.key)"])
            generation.discard()
        }
        for generation in generations where !generation.isEnded {
            while self.totalReplayBytes > self.replayMemoryLimit {
                let freed = generation.evictOldestEvent()
                guard freed > 0 else { break }
                self.replayBytes.wrappingSubtract(freed, ordering: .relaxed)
            }
        }
    }
}
