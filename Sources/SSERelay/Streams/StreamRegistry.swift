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
    }

    private let state = NIOLockedValueBox(State())
    private let replayBytes = Atomic<Int>(0)
    private let replayMemoryLimitValue: Synchronization.Atomic<Int>
    let metrics: RelayMetrics
    private let logger: Logger

    /// `limits.replayMemoryBytes`; a reload that lowers it reclaims at the next event.
    var replayMemoryLimit: Int {
        get { self.replayMemoryLimitValue.load(ordering: .relaxed) }
        set { self.replayMemoryLimitValue.store(newValue, ordering: .relaxed) }
    }

    init(replayMemoryLimit: Int, metrics: RelayMetrics, logger: Logger) {
        self.replayMemoryLimitValue = Synchronization.Atomic(replayMemoryLimit)
        self.metrics = metrics
        self.logger = logger
    }

    /// What to do with a stream request, and the generation it concerns (a new one for
    /// `.start`, counted with this client; none for `.noContent`).
    func resolve(
        key: StreamKey,
        route: StreamRouteConfiguration,
        lastEventID: String?,
        eventLoop: any EventLoop
    ) -> (StreamRequestResolution, Generation?) {
        self.state.withLockedValue { state in
            let generations = state.generations[key] ?? []
            let resolution = StreamRequestResolution.resolve(
                lastEventID: lastEventID,
                generations: generations.map { $0.snapshot() },
                joinFrom: route.joinFrom
            )
            let generation: Generation?
            switch resolution {
            case .noContent:
                self.metrics.record(.noContent)
                generation = nil
            case .resume(let token, _), .join(let token, _, _):
                generation = generations.last { $0.token == token }
            case .start:
                let new = Generation(key: key, route: route, eventLoop: eventLoop, registry: self, logger: self.logger)
                state.generations[key, default: []].append(new)
                generation = new
            }
            generation?.clientJoined()
            return (resolution, generation)
        }
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

    /// Bytes held by all replay buffers.
    var totalReplayBytes: Int { self.replayBytes.load(ordering: .relaxed) }

    /// Called by a generation that discarded itself.
    func remove(_ generation: Generation, freedBytes: Int) {
        self.state.withLockedValue { state in
            state.generations[generation.key]?.removeAll { $0 === generation }
            if state.generations[generation.key]?.isEmpty ?? false {
                state.generations[generation.key] = nil
            }
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
