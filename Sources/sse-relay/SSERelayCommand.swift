import ArgumentParser
import SSERelay
import SSERelayCore

/// `sse-relay`: the command line. Parsing only; the relay itself lives in the `SSERelay` module.
@main
struct SSERelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sse-relay",
        abstract: "A reverse proxy that makes Server-Sent Events streams resumable and deduplicated.",
        version: RelayVersion.current,
        subcommands: [ServeCommand.self, CheckConfigCommand.self, DemoCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
