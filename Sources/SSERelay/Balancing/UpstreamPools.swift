import Logging
import NIOConcurrencyHelpers
import NIOCore
import SSERelayCore

/// The upstream's servers and, on every event loop of the server's group, an
/// ``UpstreamBalancer`` over one ``UpstreamConnectionPool`` per server.
///
/// A reload that changes the upstream replaces the servers (``replaceServers(with:configuration:capacity:)``):
/// every loop gets new pools, and the old ones shut down, so their idle connections close at
/// once and their busy ones (exchanges and streams in flight) finish, then close.
final class UpstreamPools: Sendable {
    private let current: NIOLockedValueBox<[UpstreamServer]>
    /// Every loop's balancer, in the group's order (each loop's share of the budgets follows its
    /// place), and by loop for the lookup of each new connection.
    private let balancers: [NIOLoopBound<UpstreamBalancer>]
    private let balancersByLoop: [ObjectIdentifier: NIOLoopBound<UpstreamBalancer>]
    private let receiveBuffers: AdaptiveRecvByteBufferAllocator

    /// Creates the pools of every loop of `group` for `servers` (see ``pools(on:index:of:servers:configuration:capacity:streamBudget:receiveBuffers:)``
    /// for how the budgets are shared).
    static func make(
        group: any EventLoopGroup,
        configuration: UpstreamConfiguration,
        servers: [UpstreamServer],
        capacity: ConnectionCapacity,
        receiveBuffers: AdaptiveRecvByteBufferAllocator
    ) async throws -> UpstreamPools {
        let loops = Array(group.makeIterator())
        var balancers: [NIOLoopBound<UpstreamBalancer>] = []
        for (index, loop) in loops.enumerated() {
            balancers.append(
                try await loop.submit {
                    let streamBudget = UpstreamStreamBudget(
                        limit: Self.share(capacity.streamUpstreamConnections, among: loops.count, index: index))
                    let pools = Self.pools(
                        on: loop, index: index, of: loops.count, servers: servers, configuration: configuration,
                        capacity: capacity, streamBudget: streamBudget, receiveBuffers: receiveBuffers)
                    return NIOLoopBound(UpstreamBalancer(pools: pools, streamBudget: streamBudget), eventLoop: loop)
                }.get())
        }
        return UpstreamPools(servers: servers, balancers: balancers, receiveBuffers: receiveBuffers)
    }

    /// The pools of loop `index` of `count`, one per server.
    ///
    /// The keep-alive budget (``ConnectionCapacity/pooledUpstreamConnections``, the effective
    /// `upstream.maxConnections`) is shared among the loops, and each loop's part among the
    /// servers by weight (at least one connection each); the streams' budget is shared among the
    /// loops and drawn by every server of a loop (``UpstreamStreamBudget``). Connections read
    /// into `receiveBuffers`.
    private static func pools(
        on loop: any EventLoop, index: Int, of count: Int, servers: [UpstreamServer],
        configuration: UpstreamConfiguration, capacity: ConnectionCapacity, streamBudget: UpstreamStreamBudget,
        receiveBuffers: AdaptiveRecvByteBufferAllocator
    ) -> [UpstreamConnectionPool] {
        let limit = Self.share(capacity.pooledUpstreamConnections, among: count, index: index)
        let totalWeight = max(1, servers.reduce(0) { $0 + $1.weight })
        return servers.map { server in
            UpstreamConnectionPool(
                eventLoop: loop, server: server,
                connector: .tcp(
                    to: server.addresses, tls: server.tls,
                    connectTimeout: .fractionalSeconds(configuration.connectTimeoutSeconds),
                    receiveBuffers: receiveBuffers),
                configuration: configuration, limit: max(1, limit * server.weight / totalWeight),
                streamBudget: streamBudget)
        }
    }

    /// Loop `index`'s part of `total` shared among `count` loops: the remainder of the division
    /// goes to the first loops, and every loop gets at least one.
    static func share(_ total: Int, among count: Int, index: Int) -> Int {
        let count = max(1, count)
        return max(1, total / count + (index < total % count ? 1 : 0))
    }

    private init(
        servers: [UpstreamServer], balancers: [NIOLoopBound<UpstreamBalancer>],
        receiveBuffers: AdaptiveRecvByteBufferAllocator
    ) {
        self.current = NIOLockedValueBox(servers)
        self.balancers = balancers
        self.balancersByLoop = Dictionary(
            balancers.map { (ObjectIdentifier($0.eventLoop), $0) }, uniquingKeysWith: { first, _ in first })
        self.receiveBuffers = receiveBuffers
    }

    /// The servers of `upstream.servers` (or the one of `upstream.url`), in order.
    var servers: [UpstreamServer] {
        self.current.withLockedValue { $0 }
    }

    /// The balancer of `eventLoop`; call on that loop.
    func balancer(for eventLoop: any EventLoop) -> UpstreamBalancer? {
        self.balancersByLoop[ObjectIdentifier(eventLoop)]?.value
    }

    /// Puts `servers` in place of the current ones on every loop, with `configuration`'s pool
    /// settings and `capacity`'s budgets. Requests that start after a loop took the change go to
    /// the new servers; the old pools shut down (see the type's documentation).
    func replaceServers(
        with servers: [UpstreamServer], configuration: UpstreamConfiguration, capacity: ConnectionCapacity
    ) {
        self.current.withLockedValue { $0 = servers }
        let count = self.balancers.count
        let receiveBuffers = self.receiveBuffers
        for (index, balancer) in self.balancers.enumerated() {
            balancer.eventLoop.execute {
                let budget = balancer.value.streamBudget
                budget.limit = Self.share(capacity.streamUpstreamConnections, among: count, index: index)
                let pools = Self.pools(
                    on: balancer.eventLoop, index: index, of: count, servers: servers, configuration: configuration,
                    capacity: capacity, streamBudget: budget, receiveBuffers: receiveBuffers)
                for pool in balancer.value.replacePools(with: pools) {
                    pool.shutdown(failingWaitersWith: .serversReplaced)
                }
            }
        }
    }

    /// Tells every loop's pool of `server` that its name stands for `addresses` now (see
    /// ``UpstreamConnectionPool/addressesChanged(to:)``).
    func addressesChanged(of server: UpstreamServer, to addresses: [SocketAddress]) {
        for balancer in self.balancers {
            balancer.eventLoop.execute {
                for pool in balancer.value.pools where pool.server === server {
                    pool.addressesChanged(to: addresses)
                }
            }
        }
    }

    /// Closes every pool's idle connections.
    func shutdown() async {
        for balancer in self.balancers {
            try? await balancer.eventLoop.submit {
                for pool in balancer.value.pools { pool.shutdown() }
            }.get()
        }
    }
}
