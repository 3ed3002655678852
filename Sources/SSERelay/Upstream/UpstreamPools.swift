import NIOCore
import SSERelayCore

/// The ``UpstreamConnectionPool`` of every event loop of the server's group.
final class UpstreamPools: Sendable {
    private let pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>]
    /// The upstream's socket address, resolved once at start-up.
    let address: SocketAddress

    /// Creates one pool on each loop of `group`, sharing the keep-alive budget
    /// (``ConnectionCapacity/pooledUpstreamConnections``, the effective `upstream.maxConnections`)
    /// and the streams' budget among them (see ``share(_:among:index:)``). Their connections
    /// read into `receiveBuffers`.
    static func make(
        group: any EventLoopGroup,
        configuration: UpstreamConfiguration,
        capacity: ConnectionCapacity,
        receiveBuffers: AdaptiveRecvByteBufferAllocator
    ) async throws -> UpstreamPools {
        let address = try Self.resolve(configuration.url)
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
                            to: address, connectTimeout: .fractionalSeconds(configuration.connectTimeoutSeconds),
                            receiveBuffers: receiveBuffers),
                        configuration: configuration, limit: limit,
                        streamLimit: streamLimit),
                    eventLoop: loop
                )
            }.get()
        }
        return UpstreamPools(pools: pools, address: address)
    }

    /// Loop `index`'s part of `total` shared among `count` loops: the remainder of the division
    /// goes to the first loops, and every loop gets at least one.
    static func share(_ total: Int, among count: Int, index: Int) -> Int {
        let count = max(1, count)
        return max(1, total / count + (index < total % count ? 1 : 0))
    }

    private init(pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>], address: SocketAddress) {
        self.pools = pools
        self.address = address
    }

    /// The pool of `eventLoop`; call on that loop.
    func pool(for eventLoop: any EventLoop) -> UpstreamConnectionPool? {
        self.pools[ObjectIdentifier(eventLoop)]?.value
    }

    /// Closes every pool's idle connections.
    func shutdown() async {
        for pool in self.pools.values {
            try? await pool.eventLoop.submit { pool.value.shutdown() }.get()
        }
    }

    /// The upstream's socket address, resolved once at start-up so no request waits on DNS.
    private static func resolve(_ url: UpstreamURL) throws -> SocketAddress {
        if let address = try? SocketAddress(ipAddress: url.host, port: url.port) {
            return address
        }
        return try SocketAddress.makeAddressResolvingHost(url.host, port: url.port)
    }
}
