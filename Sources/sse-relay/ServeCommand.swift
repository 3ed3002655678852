import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import SSERelay
import SSERelayCore
import ServiceLifecycle
import UnixSignals

/// `sse-relay [serve] [--config PATH] [--listen HOST:PORT] …`: runs the relay.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the relay (the default). Without --config the embedded defaults serve."
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try self.options.loadOrExit()
        RelayLogging.bootstrap(format: configuration.log.format)
        let logger = RelayLogging.logger(configuration.log)
        Self.raiseDescriptorLimit(logger: logger)
        let metrics = RelayMetrics()
        // Libraries that report through swift-metrics show up on the relay's /metrics too.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        let relay = RelayService(
            configuration: configuration,
            logger: logger,
            notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment),
            activation: SocketActivation(environment: ProcessInfo.processInfo.environment),
            metrics: metrics
        )
        let options = self.options
        try await Self.run(relay, logger: logger, onReload: { await relay.reload(options.load) })
    }

    /// Raises the open-files soft limit to the hard one before anything is bound, since the
    /// connection budgets are derived from it; a refusal is logged and the relay serves within
    /// the limit it has.
    static func raiseDescriptorLimit(logger: Logger) {
        switch DescriptorLimit.raiseSoftLimitToHard() {
        case .raised(let from, let limit):
            logger.debug("open-files limit raised", metadata: ["from": "\(from)", "to": "\(limit.soft)"])
        case .unchanged:
            break
        case .failed(let limit, let errno):
            logger.warning(
                "cannot raise the open-files limit to the hard limit; serving within the soft one",
                metadata: ["soft": "\(limit.soft)", "hard": "\(limit.hard)", "errno": "\(errno)"])
        case nil:
            logger.warning("cannot read the open-files limit (getrlimit failed)")
        }
    }

    /// Runs `service` until SIGTERM or SIGINT has let it drain. A second such signal during the
    /// drain exits at once with status 1: the operator chose not to wait. SIGHUP calls
    /// `onReload` (without one it is logged and ignored).
    ///
    /// The signals are watched here rather than by the service group, so the first one always
    /// starts the graceful shutdown and the second one always exits, in that order.
    static func run(
        _ service: some Service, logger: Logger, onReload: (@Sendable () async -> Void)? = nil
    ) async throws {
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                var received = 0
                for await signal in signals {
                    if signal == .sighup {
                        if let onReload {
                            logger.notice("SIGHUP: reloading the configuration")
                            await onReload()
                        } else {
                            logger.notice("SIGHUP: no configuration file to reload")
                        }
                        continue
                    }
                    received += 1
                    if received == 1 {
                        logger.notice("\(signal): shutting down gracefully")
                        await group.triggerGracefulShutdown()
                    } else {
                        logger.warning("second \(signal) during shutdown: exiting without waiting for the drain")
                        Foundation.exit(1)
                    }
                }
            }
            // The service group ends the run; the signal watcher is then cancelled.
            try await tasks.next()
            tasks.cancelAll()
        }
    }
}
