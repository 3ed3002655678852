public import Logging
import NIOCore
public import SSERelayCore
public import ServiceLifecycle

/// The relay as a swift-service-lifecycle `Service`: binds the listeners, serves until a
/// graceful shutdown is requested (SIGTERM, SIGINT), then drains within
/// `shutdownGraceSeconds`.
public struct RelayService: Service, CustomStringConvertible {
    private let configuration: RelayConfiguration
    private let logger: Logger

    public init(configuration: RelayConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// What service-lifecycle logs for this service: a name, never the configuration, which may
    /// hold the admin token.
    public var description: String { "RelayService(listen: \(self.configuration.listen))" }

    public func run() async throws {
        let proxy = try await ProxyServer.bind(configuration: self.configuration, logger: self.logger)
        self.logger.notice(
            "sse-relay listening",
            metadata: [
                "listen": "\(proxy.localAddress.hostAndPort)",
                "upstream": "\(self.configuration.upstream.url)",
                "streams": .array(self.configuration.streams.map { .string($0.path.description) }),
            ]
        )
        try? await gracefulShutdown()
        self.logger.notice(
            "shutting down", metadata: ["grace_seconds": .stringConvertible(self.configuration.shutdownGraceSeconds)])
        await proxy.shutdown(gracePeriod: .fractionalSeconds(self.configuration.shutdownGraceSeconds))
        self.logger.notice("stopped")
    }
}
