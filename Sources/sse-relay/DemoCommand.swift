import ArgumentParser
import Foundation
import Logging
import SSERelay
import SSERelayCore
import SSERelayDemo

/// `sse-relay demo`: a fake chat backend and the relay in front of it, a scripted scenario that
/// shows what the relay does, then serving until Ctrl-C, to try it with curl.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Show what the relay does: a built-in fake chat backend, the relay in front of it, two scripted clients.",
        discussion: """
            The account of what the demo's clients receive goes to stdout; the relay's log goes to \
            stderr (`--log-level info` adds a line per request).
            """
    )

    @Option(help: "Address for the relay, HOST:PORT (port 0: a free port).")
    var listen = "127.0.0.1:0"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "notice"

    @Flag(help: "Skip the scripted scenario: only serve, to try the relay by hand.")
    var noScenario = false

    func run() async throws {
        var configuration = try ConfigurationOptions.loadOrExit(
            path: nil, overrides: ConfigurationOverrides(listen: self.listen, logLevel: self.logLevel))
        configuration.log.format = .text
        RelayLogging.bootstrap(format: configuration.log.format)
        let logger = RelayLogging.logger(configuration.log)
        let demo = DemoService(
            configuration: configuration, runsScenario: !self.noScenario, logger: logger, output: Self.printLine)
        // As `serve` does: the first SIGINT or SIGTERM drains, a second one exits at once.
        try await ServeCommand.run(demo, logger: logger)
    }

    /// Writes `line` to stdout at once, with one write: lines of clients that run at the same
    /// time stay whole, and the account keeps up even when stdout is a pipe.
    @Sendable static func printLine(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
