import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SSERelayCore

/// Cluster mode while the relay runs: the ``ClusterNode``, the peer listener other relays
/// forward requests to, and the background work (the database client's connections and the
/// lease renewals).
final class ClusterBinding: Sendable {
    let node: ClusterNode
    /// Where the peer listener is bound (with the port the OS chose for port 0).
    let peerAddress: SocketAddress
    private let peerChannel: any Channel
    private let work: Task<Void, Never>

    private init(
        node: ClusterNode, peerAddress: SocketAddress, peerChannel: any Channel, work: Task<Void, Never>
    ) {
        self.node = node
        self.peerAddress = peerAddress
        self.peerChannel = peerChannel
        self.work = work
    }

    /// Reads the secrets, binds the peer listener (whose connections `initializeChannel` sets
    /// up, as the proxy listener's but for the peer side), connects to the directory and
    /// prepares its table. A database that cannot be reached does not stop the start: the relay
    /// serves degraded until it answers. A secret that does not read does
    /// (``ClusterSecrets/SetupError``).
    static func bind(
        _ configuration: ClusterConfiguration, upstream: UpstreamConfiguration, group: any EventLoopGroup,
        metrics: RelayMetrics, registry: StreamRegistry, logger: Logger,
        initializeChannel: @escaping @Sendable (any Channel, ClusterNode) throws -> Void
    ) async throws -> ClusterBinding {
        let secrets = try ClusterSecrets.load(for: configuration)
        // The node needs the listener's address and the listener's connections need the node:
        // nobody knows the address before the listener is bound, so no connection comes first.
        let bound = NIOLockedValueBox<ClusterNode?>(nil)
        let bootstrap = ProxyServer.listenerBootstrap(
            "peer", group: group, backlog: 1024, metrics: metrics, logger: logger
        ) { channel in
            guard let node = bound.withLockedValue({ $0 }) else { throw ChannelError.ioOnClosedChannel }
            try initializeChannel(channel, node)
        }
        let channel = try await ListenerSource.address(configuration.peer.listen).bind(bootstrap)
        guard let localAddress = channel.localAddress else {
            try? await channel.close()
            throw ChannelError.unknownLocalAddress
        }
        let advertised = configuration.peer.advertisedAddress(boundPort: localAddress.port ?? 0).description
        let clusterMetrics = ClusterMetrics(registry: metrics.registry)
        let directory = PostgresStreamDirectory(
            configuration: configuration.database, password: secrets.databasePassword, logger: logger)
        let node = ClusterNode(
            member: ClusterMember(peerAddress: advertised), configuration: configuration, directory: directory,
            credentials: secrets.credentials,
            peers: PeerPools(
                group: group, upstream: upstream, receiveBuffers: ProxyServer.receiveBuffers, metrics: clusterMetrics,
                logger: logger),
            metrics: clusterMetrics, logger: logger)
        bound.withLockedValue { $0 = node }
        // Detached, so that it carries no graceful-shutdown context: postgres-nio's client shuts
        // its pool down when the service's graceful shutdown begins, but a draining relay must
        // keep renewing its leases until its drain is over. `stop()` cancels it, after the
        // leases are released.
        let (prepared, preparedSignal) = AsyncStream.makeStream(of: Never.self)
        let work = Task.detached {
            await withDiscardingTaskGroup { tasks in
                tasks.addTask { await directory.run() }
                tasks.addTask {
                    // Prepared once the client runs; the relay listens only then (or degraded).
                    await node.start()
                    preparedSignal.finish()
                    await node.renewPeriodically { registry.newestGenerations().map(DirectoryLease.init(newestOf:)) }
                }
            }
        }
        for await _ in prepared {}
        let database = configuration.database
        logger.notice(
            "cluster mode: stream keys are claimed in the directory",
            metadata: [
                "peer_listen": "\(localAddress.hostAndPort)", "advertise": "\(advertised)",
                "member": "\(node.member.id)",
                "database": "\(database.host):\(database.port)/\(database.database)", "table": "\(database.table)",
                "degraded": "\(node.isDegraded)",
            ])
        return ClusterBinding(node: node, peerAddress: localAddress, peerChannel: channel, work: work)
    }

    /// The cluster's part of a drain, once every connection finished: the peer listener stays
    /// open until a whole `window` passes with no connection left at its end, so that a client
    /// cut at the last moment, which reconnects after its `retry:` time through any relay, is
    /// forwarded here and resumes instead of starting its conversation again elsewhere. Bounded
    /// by `deadline`; returns whether no connection is left.
    func drain(
        connections: ConnectionRegistry, window: TimeAmount, until deadline: NIODeadline, on loop: any EventLoop
    ) async -> Bool {
        // Every round sleeps a window or waits for connections, and the deadline bounds both.
        for _ in 0..<100_000 {
            let left = deadline - .now()
            guard left > .zero else { break }
            try? await Task.sleep(for: .nanoseconds(min(window, left).nanoseconds))
            if connections.count == 0 { return true }
            guard await connections.waitUntilEmpty(timeout: deadline - .now(), on: loop) else { return false }
        }
        return connections.count == 0
    }

    /// Closes the peer listener, gives up every lease, and stops the background work: the end
    /// of a shutdown.
    func stop() async {
        try? await self.peerChannel.close()
        await self.node.releaseAll()
        self.work.cancel()
        await self.node.peers.shutdown()
    }
}
