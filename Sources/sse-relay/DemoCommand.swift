import ArgumentParser
import Logging
import NIOCore
import SSERelay
import SSERelayCore

/// `sse-relay demo`: a fake chat backend and the relay in front of it, to watch the relay
/// work with nothing but curl.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the relay in front of a built-in fake chat backend and print what to try."
    )

    @Option(help: "Address for the relay, HOST:PORT.")
    var listen = "127.0.0.1:8080"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        let backend = try await DemoBackend.bind()
        var configuration = try ConfigurationOptions.loadOrExit(
            path: nil, overrides: ConfigurationOverrides(listen: self.listen, logLevel: self.logLevel))
        guard let port = backend.localAddress.port else { throw ExitCode.failure }
        configuration.upstream.url = UpstreamURL(host: "127.0.0.1", port: port)
        configuration.admin.listen = nil
        configuration.log.format = .text
        RelayLogging.bootstrap(format: configuration.log.format)
        let logger = RelayLogging.logger(configuration.log)
        let relay = "http://\(configuration.listen)"
        logger.notice(
            """
            sse-relay demo: a fake chat backend on http://127.0.0.1:\(port), the relay on \(relay).
              Two clients at once share one completion:
                curl -N \(relay)/api/conversation/42/stream & curl -N \(relay)/api/conversation/42/stream
              Resume after an id (no new completion), then 204 once it is over:
                curl -N -H 'Last-Event-ID: <an id from above>' \(relay)/api/conversation/42/stream
              Completions the backend started:  curl \(relay)/api/conversation/42/starts
            """)
        try await ServeCommand.run(RelayService(configuration: configuration, logger: logger), logger: logger)
        await backend.close()
    }
}
