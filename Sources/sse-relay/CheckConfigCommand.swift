import ArgumentParser
import SSERelayCore

/// `sse-relay check-config PATH`: validates a file and exits 0, or prints every problem and
/// exits 78.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file without starting anything."
    )

    @Argument(help: "The JSON configuration file.")
    var path: String

    func run() throws {
        _ = try ConfigurationOptions.loadOrExit(path: self.path)
        print("\(self.path): configuration is valid")
    }
}
