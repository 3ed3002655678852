public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
public import NIOPosix
public import SSERelayCore
import Synchronization

/// The proxy listener: accepts client connections and gives each the HTTP pipeline and a
/// ``ProxyHandler``.
///
/// Classic NIO channel handlers rather than `NIOAsyncChannel` tasks: a proxy moves every byte
/// twice, and handlers let the client and upstream connections of one exchange share an event
/// loop and hand parts to each other with plain calls, with backpressure through `read()`.
public final class ProxyServer: Sendable {
    /// The address the listener is bound to (with the port the OS chose for port 0).
    public let localAddress: SocketAddress

    /// The event loop of the listener, for periodic work that must stop when a loop wedges
    /// (the systemd watchdog).
    public var eventLoop: any EventLoop { self.serverChannel.eventLoop }

    /// The relay's metrics, rendered by the admin listener.
    public let metrics: RelayMetrics
    /// The configuration the server was bound with, with the reloadable parts of every reload
    /// since applied.
    public var configuration: RelayConfiguration { self.settings.configuration }

    private let serverChannel: any Channel
    let pools: UpstreamPools
    /// Resolves the upstream servers' names again (and checks their health, when configured)
    /// while the server runs (``UpstreamUpkeep``); replaced by a reload that changes the
    /// upstream, cancelled at shutdown.
    let upstreamUpkeep: NIOLockedValueBox<Task<Void, Never>>
    /// The event loops the server runs on, for the health checks of servers a reload brings.
    let group: any EventLoopGroup
    let connections: ConnectionRegistry
    /// Every generation of every stream route.
    let streams: StreamRegistry
    let settings: ProxySettingsStore
    /// The connection budgets derived at start; a reload re-derives the client limit from the
    /// same descriptor limit.
    public let capacity: ConnectionCapacity
    let logger: Logger
    /// This relay's part in a cluster, with its peer listener and background work.
    let cluster: ClusterBinding?
    private let draining = Atomic(false)

    private init(
        localAddress: SocketAddress,
        serverChannel: any Channel,
        pools: UpstreamPools,
        upstreamUpkeep: Task<Void, Never>,
        group: any EventLoopGroup,
        connections: ConnectionRegistry,
        streams: StreamRegistry,
        settings: ProxySettingsStore,
        capacity: ConnectionCapacity,
        cluster: ClusterBinding?,
        logger: Logger
    ) {
        self.cluster = cluster
        self.upstreamUpkeep = NIOLockedValueBox(upstreamUpkeep)
        self.group = group
        self.capacity = capacity
        self.localAddress = localAddress
        self.serverChannel = serverChannel
        self.streams = streams
        self.metrics = streams.metrics
        self.settings = settings
        self.pools = pools
        self.connections = connections
        self.logger = logger
    }

    /// The upstream's servers, for the readiness probe and `/streams`.
    var upstreamServers: [UpstreamServer] { self.pools.servers }

    /// Whether ``shutdown(gracePeriod:)`` began: `/readyz` answers `503` from then on.
    public var isDraining: Bool { self.draining.load(ordering: .relaxed) }

    /// Binds `configuration.listen` (or adopts `listener`, a socket systemd passed) and starts
    /// serving, with the connection budgets derived from the process's open-files limit now
    /// (raise it first: ``DescriptorLimit/raiseSoftLimitToHard()``) and logged.
    public static func bind(
        configuration: RelayConfiguration,
        logger: Logger,
        metrics: RelayMetrics = RelayMetrics(),
        listener: ListenerSource? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ProxyServer {
        // 1,024 is the usual default soft limit, for the case getrlimit cannot answer.
        let capacity = ConnectionCapacity(
            descriptorLimit: DescriptorLimit.current()?.soft ?? 1024, configuration: configuration)
        Self.log(capacity, logger: logger)
        let servers = try await UpstreamServer.makeAll(
            for: configuration.upstream, resolve: Self.resolve, metrics: metrics, logger: logger)
        let pools = try await UpstreamPools.make(
            group: group, configuration: configuration.upstream, servers: servers, capacity: capacity,
            receiveBuffers: Self.receiveBuffers)
        let connections = ConnectionRegistry(limit: capacity.clientConnections)
        let settings = ProxySettingsStore(configuration)
        let registry = StreamRegistry(limits: configuration.limits, metrics: metrics, logger: logger)
        var cluster: ClusterBinding?
        if let clusterConfiguration = configuration.cluster {
            cluster = try await ClusterBinding.bind(
                clusterConfiguration, upstream: configuration.upstream, group: group, metrics: metrics,
                registry: registry, logger: logger
            ) { channel, node in
                try Self.initializeClientChannel(
                    channel, settings: settings, pools: pools, registry: registry, connections: connections,
                    cluster: node, isPeerListener: true, logger: logger)
            }
        }
        let clusterNode = cluster?.node
        let bootstrap = Self.listenerBootstrap(
            "proxy", group: group, backlog: 4096, metrics: metrics, logger: logger
        ) { channel in
            try Self.initializeClientChannel(
                channel, settings: settings, pools: pools, registry: registry, connections: connections,
                cluster: clusterNode, isPeerListener: false, logger: logger)
        }
        let channel: any Channel
        do {
            channel = try await (listener ?? .address(configuration.listen)).bind(bootstrap)
        } catch {
            await cluster?.stop()
            throw error
        }
        guard let localAddress = channel.localAddress else {
            throw ChannelError.unknownLocalAddress
        }
        return ProxyServer(
            localAddress: localAddress,
            serverChannel: channel,
            pools: pools,
            upstreamUpkeep: UpstreamUpkeep.start(
                servers: servers, configuration: configuration.upstream, pools: pools, resolve: Self.resolve,
                group: group, metrics: metrics, logger: logger),
            group: group,
            connections: connections,
            streams: registry,
            settings: settings,
            capacity: capacity,
            cluster: cluster,
            logger: logger
        )
    }

    /// A listener's bootstrap: address reuse, `backlog`, an ``AcceptBackoff`` named `listener`,
    /// and `initializeChild` for every accepted connection.
    ///
    /// The client sockets' options are set in that initializer, synchronously: the bootstrap's
    /// child options go through a chain of futures for every accepted connection, which costs
    /// more than the two system calls themselves.
    static func listenerBootstrap(
        _ listener: String, group: any EventLoopGroup, backlog: Int32, metrics: RelayMetrics, logger: Logger,
        initializeChild: @escaping @Sendable (any Channel) throws -> Void
    ) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptBackoff(listener: listener, metrics: metrics, logger: logger))
                }
            }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try initializeChild(channel) }
            }
    }

    /// One `info` line with the budgets in force, and a warning when explicit values promise
    /// more connections than the descriptors hold.
    private static func log(_ capacity: ConnectionCapacity, logger: Logger) {
        func origin(_ derived: Bool) -> Logger.MetadataValue { derived ? "derived" : "configured" }
        logger.info(
            "connection capacity",
            metadata: [
                "descriptor_limit": "\(capacity.descriptorLimit)",
                "descriptor_reserve": "\(capacity.reserve)",
                "limits.maxConnections": "\(capacity.clientConnections)",
                "limits.maxConnections_origin": origin(capacity.clientConnectionsDerived),
                "upstream.maxConnections": "\(capacity.pooledUpstreamConnections)",
                "upstream.maxConnections_origin": origin(capacity.pooledUpstreamConnectionsDerived),
                "stream_upstream_connections": "\(capacity.streamUpstreamConnections)",
            ])
        if capacity.isOvercommitted {
            logger.warning(
                "the configured connection limits exceed the open-files limit; when descriptors run out, accepting pauses and upstream connects fail",
                metadata: [
                    "descriptor_limit": "\(capacity.descriptorLimit)",
                    "limits.maxConnections": "\(capacity.clientConnections)",
                    "upstream.maxConnections": "\(capacity.pooledUpstreamConnections)",
                ])
        }
    }

    /// How the upstream servers' host names are resolved: the system's resolver.
    static let resolve: UpstreamAddressRefresher.Resolve = {
        try await SystemHostResolver().resolve(host: $0, port: $1)
    }

    /// Connections (to clients and to the upstream) start reading into 512-byte buffers, not
    /// NIO's 2 KiB: a request head or an event is usually smaller, and each connection keeps its
    /// last buffer for the next read, so an idle stream holds a quarter of the memory. A read
    /// that fills its buffer makes the next one larger, up to 64 KiB, so bulk bodies still
    /// move in large reads. The upstream pools are given the same allocator for their
    /// connections.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536)

    private static func initializeClientChannel(
        _ channel: any Channel,
        settings store: ProxySettingsStore,
        pools: UpstreamPools,
        registry: StreamRegistry,
        connections: ConnectionRegistry,
        cluster: ClusterNode?,
        isPeerListener: Bool,
        logger: Logger
    ) throws {
        if let options = channel.syncOptions {
            try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
            try options.setOption(.recvAllocator, value: Self.receiveBuffers)
        }
        let admitted = connections.admit(channel)
        guard admitted, let upstreams = pools.balancer(for: channel.eventLoop) else {
            registry.metrics.connectionRefused()
            logger.notice(
                "connection limit reached, answering 503",
                metadata: ["limit": "\(connections.limit)", "client": "\(channel.remoteAddress?.ipAddress ?? "-")"]
            )
            try channel.pipeline.syncOperations.addHandler(OverloadResponder())
            return
        }
        let settings = store.current
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = settings.limits.maxHeaderBytes
        limits.maxHeaderFieldSize = settings.limits.maxHeaderBytes
        limits.maxHeaderFieldCount = settings.limits.maxHeaderCount
        let encoder = FramedResponseEncoder()
        let decoder = ByteToMessageHandler(
            HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits)
        )
        let handler = ProxyHandler(
            settings: store, upstreams: upstreams, registry: registry, cluster: cluster,
            isPeerListener: isPeerListener, logger: logger, codecHandlers: [encoder, decoder])
        try channel.pipeline.syncOperations.addHandlers([encoder, decoder, handler])
    }

    /// Stops accepting, lets requests and streams in flight finish within `gracePeriod` (idle
    /// keep-alive connections close at once), cuts what is left, cancels the upstreams of
    /// generations nobody listens to any more, then closes the upstream pools.
    ///
    /// In a cluster the peer listener stays open through the drain, so the streams this relay
    /// holds keep serving the reconnects other relays forward here (see
    /// ``ClusterBinding/drain(connections:window:until:on:)``); then the relay gives up its
    /// leases.
    public func shutdown(gracePeriod: TimeAmount) async {
        self.draining.store(true, ordering: .relaxed)
        self.cluster?.node.beginDraining()
        try? await self.serverChannel.close()
        self.connections.quiesce()
        let loop = self.serverChannel.eventLoop
        let deadline = NIODeadline.now() + gracePeriod
        var drained = await self.connections.waitUntilEmpty(timeout: gracePeriod, on: loop)
        if drained, let cluster = self.cluster {
            drained = await cluster.drain(
                connections: self.connections, window: self.reconnectWindow, until: deadline, on: loop)
        }
        if !drained {
            self.logger.warning(
                "shutdown grace period over, closing remaining connections",
                metadata: ["connections": .stringConvertible(self.connections.count)]
            )
            self.connections.closeAll()
            _ = await self.connections.waitUntilEmpty(timeout: .seconds(5), on: loop)
        }
        self.streams.cancelAll()
        self.upstreamUpkeep.withLockedValue { $0 }.cancel()
        if let cluster = self.cluster {
            await cluster.stop()
            // Peers that connected after the drain: the listener is closed now.
            self.connections.closeAll()
        }
        await self.pools.shutdown()
    }

    /// How long a client cut from a stream takes to come back: the longest `retry:` of the
    /// routes (a browser's own 3 s where a route sends none), and a second for the way here.
    private var reconnectWindow: TimeAmount {
        let longest = self.settings.current.streams.map { $0.retryMs ?? 3000 }.max() ?? 3000
        return .milliseconds(Int64(longest) + 1000)
    }
}
