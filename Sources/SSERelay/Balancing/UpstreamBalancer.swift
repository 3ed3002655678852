import NIOCore
import SSERelayCore

/// Chooses the server of each upstream connection on one event loop, among the loop's pools
/// (one per server).
///
/// - A **pass-through request** goes to the server with the fewest outstanding requests on this
///   loop relative to its weight, ties broken in turn. Least outstanding rather than round-robin
///   because backend requests differ wildly in length (a page against a long poll) and a slow
///   or stalled server piles up outstanding requests, so it gets fewer new ones before its
///   health even notices. Counted per loop, like Envoy's workers: no shared counter on the hot
///   path, and with the loops' even shares of clients the picture is the same.
/// - A **stream** goes where ``RendezvousPlacement`` puts its key, among the servers that take
///   traffic: the same server for every reconnect of a conversation while it is healthy.
///
/// A server out of the rotation is passed over. When none takes traffic, all of them are
/// candidates again (as nginx does): refusing every request would turn a health glitch into an
/// outage, while a server that really is down refuses quickly on its own. A request never goes
/// back to a server it ``ServerSet`` says it tried.
final class UpstreamBalancer {
    /// One pool per server, in the order of `upstream.servers`.
    private(set) var pools: [UpstreamConnectionPool]
    /// The loop's dedicated stream connections, drawn by every pool.
    let streamBudget: UpstreamStreamBudget
    /// Where the next tie-break starts.
    private var turn = 0

    init(pools: [UpstreamConnectionPool], streamBudget: UpstreamStreamBudget) {
        precondition(!pools.isEmpty, "an upstream has at least one server")
        self.pools = pools
        self.streamBudget = streamBudget
    }

    /// Puts `pools` (a reload's servers) in place of the current ones; returns the old ones,
    /// for the caller to shut down.
    func replacePools(with pools: [UpstreamConnectionPool]) -> [UpstreamConnectionPool] {
        precondition(!pools.isEmpty, "an upstream has at least one server")
        defer {
            self.pools = pools
            self.turn = 0
        }
        return self.pools
    }

    /// The pool for a pass-through request that tried `tried` already; `nil` when it tried
    /// every server.
    func poolForRequest(excluding tried: ServerSet = .empty) -> UpstreamConnectionPool? {
        if self.pools.count == 1 {
            return tried.contains(0) ? nil : self.pools[0]
        }
        let now = NIODeadline.now()
        return self.leastOutstanding(excluding: tried) { $0.server.takesTraffic(at: now) }
            ?? self.leastOutstanding(excluding: tried) { _ in true }
    }

    /// The pool for a stream whose key hashes to `placement` (``StreamKey/placementHash``) that
    /// tried `tried` already; `nil` when it tried every server.
    func poolForStream(placement: UInt64, excluding tried: ServerSet = .empty) -> UpstreamConnectionPool? {
        if self.pools.count == 1 {
            return tried.contains(0) ? nil : self.pools[0]
        }
        let now = NIODeadline.now()
        return self.highestScore(for: placement, excluding: tried) { $0.server.takesTraffic(at: now) }
            ?? self.highestScore(for: placement, excluding: tried) { _ in true }
    }

    /// Whether a server is left that `tried` does not hold.
    func hasServer(notIn tried: ServerSet) -> Bool {
        self.pools.contains { !tried.contains($0.server.index) }
    }

    private func leastOutstanding(
        excluding tried: ServerSet, where isCandidate: (UpstreamConnectionPool) -> Bool
    ) -> UpstreamConnectionPool? {
        var best: UpstreamConnectionPool?
        let count = self.pools.count
        for offset in 0..<count {
            let pool = self.pools[(self.turn + offset) % count]
            guard !tried.contains(pool.server.index), isCandidate(pool) else { continue }
            // outstanding / weight, compared without division; on a tie the earlier in turn wins.
            if let current = best,
                pool.outstanding * current.server.weight >= current.outstanding * pool.server.weight
            {
                continue
            }
            best = pool
        }
        if best != nil {
            self.turn = (self.turn + 1) % count
        }
        return best
    }

    private func highestScore(
        for placement: UInt64, excluding tried: ServerSet, where isCandidate: (UpstreamConnectionPool) -> Bool
    ) -> UpstreamConnectionPool? {
        var best: (pool: UpstreamConnectionPool, score: Double)?
        for pool in self.pools where !tried.contains(pool.server.index) && isCandidate(pool) {
            let score = RendezvousPlacement.score(
                keyHash: placement, serverHash: pool.server.placementHash, weight: pool.server.weight)
            if score > best?.score ?? -1 {
                best = (pool, score)
            }
        }
        return best?.pool
    }
}
