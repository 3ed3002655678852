public import Logging
import NIOConcurrencyHelpers
import NIOCore
public import SSERelayCore
public import ServiceLifecycle

/// The relay as a swift-service-lifecycle `Service`: binds the listeners, serves until a
/// graceful shutdown is requested (SIGTERM, SIGINT), then drains within
/// `shutdownGraceSeconds`; ``reload(_:)`` applies a re-read configuration (SIGHUP).
public struct RelayService: Service, CustomStringConvertible {
    private let configuration: RelayConfiguration
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let activation: SocketActivation
    /// The relay's metrics, created before it runs so the command line can hand their registry
    /// to swift-metrics.
    public let metrics: RelayMetrics
    /// The proxy while ``run()`` serves; a reload needs it.
    private let running = NIOLockedValueBox<ProxyServer?>(nil)

    /// How often the `STATUS=` line systemd shows is brought up to date.
    static let statusInterval = TimeAmount.seconds(5)

    /// - Parameters:
    ///   - notifier: systemd's `sd_notify` channel; a no-op outside systemd.
    ///   - activation: listening sockets systemd passed, used instead of binding the
    ///     configured addresses.
    public init(
        configuration: RelayConfiguration,
        logger: Logger,
        notifier: SystemdNotifier = .init(environment: [:]),
        activation: SocketActivation = .none,
        metrics: RelayMetrics = RelayMetrics()
    ) {
        self.configuration = configuration
        self.logger = logger
        self.notifier = notifier
        self.activation = activation
        self.metrics = metrics
    }

    /// What service-lifecycle logs for this service: a name, never the configuration, which may
    /// hold the admin token.
    public var description: String { "RelayService(listen: \(self.configuration.listen))" }

    public func run() async throws {
        let proxy = try await ProxyServer.bind(
            configuration: self.configuration, logger: self.logger, metrics: self.metrics,
            listener: self.activation.proxy.map { .inherited(descriptor: $0) })
        var admin: AdminServer?
        do {
            let adminListener: ListenerSource? =
                self.activation.admin.map { .inherited(descriptor: $0) }
                ?? self.configuration.admin.listen.map { .address($0) }
            if let adminListener {
                admin = try await AdminServer.bind(
                    self.configuration.admin, listen: adminListener, proxy: proxy, logger: self.logger)
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
                "upstream": .array(self.configuration.upstream.servers.map { .string($0.url.description) }),
                "socket_activated": "\(self.activation.proxy != nil)",
                "streams": .array(self.configuration.streams.map { .string($0.path.description) }),
            ]
        )
        self.running.withLockedValue { $0 = proxy }
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
        // No reload once the drain begins: the configuration it would apply has no future.
        self.running.withLockedValue { $0 = nil }
        let grace = proxy.configuration.shutdownGraceSeconds
        self.logger.notice("shutting down", metadata: ["grace_seconds": .stringConvertible(grace)])
        status?.cancel()
        notifier.notify("STOPPING=1\nSTATUS=draining connections and streams")
        await proxy.shutdown(gracePeriod: .fractionalSeconds(grace))
        watchdog?.cancel()
        await admin?.close()
        self.logger.notice("stopped")
    }

    /// Re-reads the configuration with `load` and applies it to new requests (SIGHUP): routes,
    /// stream options, limits, log level and `log.headers`. Nothing in flight changes and no
    /// connection is dropped. A configuration that does not load is logged and the running one
    /// stays; changed keys that need a restart (listeners, upstream address) are logged as such.
    ///
    /// systemd hears `RELOADING=1` before and `READY=1` after, whatever the outcome.
    public func reload(_ load: () throws -> RelayConfiguration) async {
        guard let proxy = self.running.withLockedValue({ $0 }) else {
            self.logger.notice("reload requested while not serving; ignored")
            return
        }
        self.notifier.notifyReloading()
        do {
            let new = try load()
            let needsRestart = try await proxy.reconfigure(new)
            RelayLogging.level.level = Logger.Level(new.log.level)
            self.logger.notice(
                "configuration reloaded",
                metadata: ["streams": .array(new.streams.map { .string($0.path.description) })])
            if !needsRestart.isEmpty {
                self.logger.warning(
                    "changed settings take effect only after a restart; the running values stay",
                    metadata: ["keys": .array(needsRestart.map { .string($0) })])
            }
            self.notifier.notify("READY=1\nSTATUS=\(proxy.statusLine)")
        } catch {
            self.logger.error(
                "configuration reload failed; the running configuration stays", metadata: ["error": "\(error)"])
            self.notifier.notify("READY=1\nSTATUS=reload failed, running the previous configuration")
        }
    }
}
