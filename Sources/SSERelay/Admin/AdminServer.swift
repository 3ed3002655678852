public import Logging
public import NIOCore
import NIOHTTP1
public import NIOPosix
public import SSERelayCore

/// The operators' listener (`admin.listen`): metrics, stream inspection and health, on a port
/// of its own so proxied traffic can never reach it and it can stay private.
///
/// It outlives the proxy's drain: during a graceful shutdown `/readyz` says `503 draining` to
/// load balancers and `/metrics` keeps being scraped until the relay exits.
public final class AdminServer: Sendable {
    /// The address the listener is bound to (with the port the OS chose for port 0).
    public let localAddress: SocketAddress
    private let channel: any Channel

    private init(localAddress: SocketAddress, channel: any Channel) {
        self.localAddress = localAddress
        self.channel = channel
    }

    /// Binds `listen` (or adopts the socket systemd passed) in front of `proxy`.
    public static func bind(
        _ configuration: AdminConfiguration,
        listen: ListenerSource,
        proxy: ProxyServer,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> AdminServer {
        let token = configuration.token.map(BearerToken.init)
        let probe = UpstreamProbe(proxy: proxy, group: group)
        // Descriptors held for when the proxy's clients have taken all the others, so that
        // `/healthz` and `/metrics` still answer then.
        let reserve = DescriptorReserve()
        let metrics = proxy.metrics
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptBackoff(listener: "admin", reserve: reserve, metrics: metrics, logger: logger))
                }
            }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        AdminHandler(proxy: proxy, token: token, probe: probe, logger: logger))
                }
            }
        let channel = try await listen.bind(bootstrap)
        guard let localAddress = channel.localAddress else {
            throw ChannelError.unknownLocalAddress
        }
        return AdminServer(localAddress: localAddress, channel: channel)
    }

    /// Closes the listener and its connections.
    public func close() async {
        try? await self.channel.close()
    }
}
