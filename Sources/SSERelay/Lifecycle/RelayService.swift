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
    private let notifier: SystemdNotifier
    /// The relay's metrics, created before it runs so the command line can hand their registry
    /// to swift-metrics.
    public let metrics: RelayMetrics

    /// How often the `STATUS=` line systemd shows is brought up to date.
    static let statusInterval = TimeAmount.seconds(5)

    /// - Parameter notifier: systemd's `sd_notify` channel; a no-op outside systemd.
    public init(
        configuration: RelayConfiguration,
        logger: Logger,
        notifier: SystemdNotifier = .init(environment: [:]),
        metrics: RelayMetrics = RelayMetrics()
    ) {
        self.configuration = configuration
        self.logger = logger
        self.notifier = notifier
        self.metrics = metrics
    }

    /// What service-lifecycle logs for this service: a name, never the configuration, which may
    /// hold the admin token.
    public var description: String { "RelayService(listen: \(self.configuration.listen))" }

    public func run() async throws {
        let proxy = try await ProxyServer.bind(
            configuration: self.configuration, logger: self.logger, metrics: self.metrics)
        var admin: AdminServer?
        do {
            if let listen = self.configuration.admin.listen {
                admin = try await AdminServer.bind(
                    self.configuration.admin, listen: listen, proxy: proxy, logger: self.logger)
            }
        } catch {
            await proxy.shutdown(gracePeriod: .zero)
            throw error
        }
        self.logger.notice(
            "sse-relay listening",
            metadata: [
                "listen": "\(proxy.localAddress.hostAndPort)",
                "admin": "\(admin.map { $0.localAddress.hostAndPort } ?? "off")",
                "upstream": "\(self.configuration.upstream.url)",
                "streams": .array(self.configuration.streams.map { .string($0.path.description) }),
            ]
        )
        let notifier = self.notifier
        notifier.notify("READY=1\nSTATUS=\(proxy.statusLine)")
        // Pinged from an event loop, so a wedged loop stops the pings and systemd restarts us.
        let watchdog = notifier.watchdogInterval.map { interval in
            proxy.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
                notifier.notify("WATCHDOG=1")
            }
        }
        let status =
            notifier.isEnabled
            ? proxy.eventLoop.scheduleRepeatedTask(initialDelay: Self.statusInterval, delay: Self.statusInterval) {
                _ in
                notifier.notify("STATUS=\(proxy.statusLine)")
            } : nil

        try? await gracefulShutdown()
        self.logger.notice(
            "shutting down", metadata: ["grace_seconds": .stringConvertible(self.configuration.shutdownGraceSeconds)])
        status?.cancel()
        notifier.notify("STOPPING=1\nSTATUS=draining connections and streams")
        await proxy.shutdown(gracePeriod: .fractionalSeconds(self.configuration.shutdownGraceSeconds))
        watchdog?.cancel()
        await admin?.close()
        self.logger.notice("stopped")
    }
}
