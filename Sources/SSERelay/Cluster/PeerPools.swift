import Logging
import NIOConcurrencyHelpers
import NIOCore
import SSERelayCore

/// Connections to the other relays of the cluster, for the stream requests forwarded to them.
///
/// One ``UpstreamServer`` per peer address, shared by the loops, and on every loop one
/// ``UpstreamConnectionPool`` per peer, made when a request is first forwarded there. A
/// forwarded stream holds its connection for its whole life, so it takes a dedicated
/// connection from the loop's stream budget, as a generation's upstream request would: the
/// descriptors it costs are counted the same way.
///
/// A peer's host name is resolved once, when it is first forwarded to; the directory records
/// addresses as the peers advertise them, and a relay that moves advertises its new address
/// with its next claim.
final class PeerPools: Sendable {
    private let servers = NIOLockedValueBox<[String: UpstreamServer]>([:])
    /// Every loop's pools, by peer address.
    private let tables: [ObjectIdentifier: NIOLoopBoundBox<[String: UpstreamConnectionPool]>]
    private let connectTimeout: TimeAmount
    private let upstream: UpstreamConfiguration
    private let receiveBuffers: AdaptiveRecvByteBufferAllocator
    private let metrics: ClusterMetrics
    private let logger: Logger

    init(
        group: any EventLoopGroup, upstream: UpstreamConfiguration, receiveBuffers: AdaptiveRecvByteBufferAllocator,
        metrics: ClusterMetrics, logger: Logger
    ) {
        self.tables = Dictionary(
            group.makeIterator().map { loop in
                (ObjectIdentifier(loop), NIOLoopBoundBox.makeBoxSendingValue([:], eventLoop: loop))
            },
            uniquingKeysWith: { first, _ in first })
        self.connectTimeout = .fractionalSeconds(upstream.connectTimeoutSeconds)
        self.upstream = upstream
        self.receiveBuffers = receiveBuffers
        self.metrics = metrics
        self.logger = logger
    }

    /// Calls `completion` with the pool of `eventLoop` to `peer`, whose dedicated connections
    /// draw on `streamBudget` (the loop's). Call on `eventLoop`; `completion` runs there, at
    /// once when the pool exists.
    func withPool(
        for peer: ClusterMember, on eventLoop: any EventLoop, streamBudget: UpstreamStreamBudget,
        _ completion: @escaping (Result<UpstreamConnectionPool, any Error>) -> Void
    ) {
        guard let table = self.tables[ObjectIdentifier(eventLoop)] else {
            return completion(.failure(UpstreamError.shuttingDown))
        }
        if let pool = table.value[peer.peerAddress] {
            return completion(.success(pool))
        }
        let promise = eventLoop.makePromise(of: UpstreamServer.self)
        promise.completeWithTask { try await self.server(for: peer.peerAddress) }
        promise.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let server):
                // Another request may have made it while the server was being resolved.
                let pool =
                    table.value[peer.peerAddress]
                    ?? UpstreamConnectionPool(
                        eventLoop: eventLoop, server: server,
                        connector: .tcp(
                            to: server.addresses, connectTimeout: self.connectTimeout,
                            receiveBuffers: self.receiveBuffers),
                        configuration: self.upstream, limit: 1, streamBudget: streamBudget)
                table.value[peer.peerAddress] = pool
                completion(.success(pool))
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }

    /// The server for a peer address, made and resolved once.
    private func server(for address: String) async throws -> UpstreamServer {
        if let server = self.servers.withLockedValue({ $0[address] }) { return server }
        let hostAndPort = try HostAndPort(parsing: address)
        let configuration = UpstreamServerConfiguration(url: UpstreamURL(scheme: .http, address: hostAndPort))
        let addresses: UpstreamAddresses
        if (try? SocketAddress(ipAddress: hostAndPort.host, port: hostAndPort.port)) != nil {
            addresses = UpstreamAddresses(host: hostAndPort.host, port: hostAndPort.port)
        } else {
            do {
                let resolved = try await SystemHostResolver().resolve(host: hostAndPort.host, port: hostAndPort.port)
                addresses = UpstreamAddresses(host: hostAndPort.host, port: hostAndPort.port, resolved: resolved)
            } catch {
                addresses = UpstreamAddresses(
                    host: hostAndPort.host, port: hostAndPort.port, error: "\(error)")
            }
        }
        let server = UpstreamServer(
            index: 0, configuration: configuration, addresses: addresses, health: UpstreamHealthConfiguration(),
            tracksHealth: false, metrics: self.metrics.peer(address), logger: self.logger)
        return self.servers.withLockedValue { servers in
            if let existing = servers[address] { return existing }
            servers[address] = server
            return server
        }
    }

    /// Closes every pool's idle connections.
    func shutdown() async {
        for table in self.tables.values {
            try? await table.eventLoop.submit {
                for pool in table.value.values { pool.shutdown() }
            }.get()
        }
    }
}
