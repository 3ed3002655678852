import Logging
import NIOCore
import SSERelayCore

/// The upstream's servers and, on every event loop of the server's group, an
/// ``UpstreamBalancer`` over one ``UpstreamConnectionPool`` per server.
final class UpstreamPools: Sendable {
    /// The servers of `upstream.servers` (or the one of `upstream.url`), in order.
    let servers: [UpstreamServer]
    private let balancers: [ObjectIdentifier: NIOLoopBound<UpstreamBalancer>]

    /// Creates the pools of every loop of `group` for `servers`.
    ///
    /// The keep-alive budget (``ConnectionCapacity/pooledUpstreamConnections``, the effective
    /// `upstream.maxConnections`) is shared among the loops, and each loop's part among the
    /// servers by weight (see ``share(_:among:index:)``); the streams' budget is shared among the
    /// loops and drawn by every server of a loop. Connections read into `receiveBuffers`.
    static func make(
        group: any EventLoopGroup,
        configuration: UpstreamConfiguration,
        servers: [UpstreamServer],
        capacity: ConnectionCapacity,
        receiveBuffers: AdaptiveRecvByteBufferAllocator
    ) async throws -> UpstreamPools {
        let loops = Array(group.makeIterator())
        let totalWeight = servers.reduce(0) { $0 + $1.weight }
        var balancers: [ObjectIdentifier: NIOLoopBound<UpstreamBalancer>] = [:]
        for (index, loop) in loops.enumerated() {
            let limit = Self.share(capacity.pooledUpstreamConnections, among: loops.count, index: index)
            let streamLimit = Self.share(capacity.streamUpstreamConnections, among: loops.count, index: index)
            balancers[ObjectIdentifier(loop)] = try await loop.submit {
                let streamBudget = UpstreamStreamBudget(limit: streamLimit)
                let pools = servers.map { server in
                    UpstreamConnectionPool(
                        eventLoop: loop, server: server,
                        connector: .tcp(
                            to: server.addresses,
                            connectTimeout: .fractionalSeconds(configuration.connectTimeoutSeconds),
                            receiveBuffers: receiveBuffers),
                        configuration: configuration,
                        limit: max(1, limit * server.weight / max(1, totalWeight)),
                        streamBudget: streamBudget)
                }
                return NIOLoopBound(UpstreamBalancer(pools: pools), eventLoop: loop)
            }.get()
        }
        return UpstreamPools(servers: servers, balancers: balancers)
    }

    /// Loop `index`'s part of `total` shared among `count` loops: the remainder of the division
    /// goes to the first loops, and every loop gets at least one.
    static func share(_ total: Int, among count: Int, index: Int) -> Int {
        let count = max(1, count)
        return max(1, total / count + (index < total % count ? 1 : 0))
    }

    private init(servers: [UpstreamServer], balancers: [ObjectIdentifier: NIOLoopBound<UpstreamBalancer>]) {
        self.servers = servers
        self.balancers = balancers
    }

    /// The balancer of `eventLoop`; call on that loop.
    func balancer(for eventLoop: any EventLoop) -> UpstreamBalancer? {
        self.balancers[ObjectIdentifier(eventLoop)]?.value
    }

    /// Tells every loop's pool of `server` that its name stands for `addresses` now (see
    /// ``UpstreamConnectionPool/addressesChanged(to:)``).
    func addressesChanged(of server: UpstreamServer, to addresses: [SocketAddress]) {
        for balancer in self.balancers.values {
            balancer.eventLoop.execute {
                balancer.value.pools[server.index].addressesChanged(to: addresses)
            }
        }
    }

    /// Closes every pool's idle connections.
    func shutdown() async {
        for balancer in self.balancers.values {
            try? await balancer.eventLoop.submit {
                for pool in balancer.value.pools { pool.shutdown() }
            }.get()
        }
    }
}
