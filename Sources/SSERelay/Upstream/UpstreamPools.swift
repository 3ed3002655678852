import NIOCore
import SSERelayCore

/// The ``UpstreamConnectionPool`` of every event loop of the server's group.
final class UpstreamPools: Sendable {
    private let pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>]
    /// The addresses the upstream's name stands for, kept current by an
    /// ``UpstreamAddressRefresher``.
    let addresses: UpstreamAddresses

    /// Creates one pool on each loop of `group`, sharing the keep-alive budget
    /// (``ConnectionCapacity/pooledUpstreamConnections``, the effective `upstream.maxConnections`)
    /// and the streams' budget among them (see ``share(_:among:index:)``). Their connections
    /// read into `receiveBuffers`.
    static func make(
        group: any EventLoopGroup,
        configuration: UpstreamConfiguration,
        addresses: UpstreamAddresses,
        capacity: ConnectionCapacity,
        receiveBuffers: AdaptiveRecvByteBufferAllocator
    ) async throws -> UpstreamPools {
        let loops = Array(group.makeIterator())
        var pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>] = [:]
        for (index, loop) in loops.enumerated() {
            let limit = Self.share(capacity.pooledUpstreamConnections, among: loops.count, index: index)
            let streamLimit = Self.share(capacity.streamUpstreamConnections, among: loops.count, index: index)
            pools[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(
                    UpstreamConnectionPool(
                        eventLoop: loop,
                        connector: .tcp(
                            to: addresses, connectTimeout: .fractionalSeconds(configuration.connectTimeoutSeconds),
                            receiveBuffers: receiveBuffers),
                        configuration: configuration, limit: limit,
                        streamLimit: streamLimit),
                    eventLoop: loop
                )
            }.get()
        }
        return UpstreamPools(pools: pools, addresses: addresses)
    }

    /// Loop `index`'s part of `total` shared among `count` loops: the remainder of the division
    /// goes to the first loops, and every loop gets at least one.
    static func share(_ total: Int, among count: Int, index: Int) -> Int {
        let count = max(1, count)
        return max(1, total / count + (index < total % count ? 1 : 0))
    }

    private init(pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>], addresses: UpstreamAddresses) {
        self.pools = pools
        self.addresses = addresses
    }

    /// The pool of `eventLoop`; call on that loop.
    func pool(for eventLoop: any EventLoop) -> UpstreamConnectionPool? {
        self.pools[ObjectIdentifier(eventLoop)]?.value
    }

    /// Tells every pool that the upstream's name stands for `addresses` now (see
    /// ``UpstreamConnectionPool/addressesChanged(to:)``).
    func addressesChanged(to addresses: [SocketAddress]) {
        for pool in self.pools.values {
            pool.eventLoop.execute { pool.value.addressesChanged(to: addresses) }
        }
    }

    /// Closes every pool's idle connections.
    func shutdown() async {
        for pool in self.pools.values {
            try? await pool.eventLoop.submit { pool.value.shutdown() }.get()
        }
    }
}
