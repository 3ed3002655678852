import ArgumentParser
import Foundation
import Logging
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
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: RelayService(
                            configuration: configuration, logger: logger,
                            notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment)))
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
