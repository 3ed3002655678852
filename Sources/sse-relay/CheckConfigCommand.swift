import ArgumentParser
import NIOCore
import SSERelay
import SSERelayCore

/// `sse-relay check-config PATH`: validates a file and exits 0, or prints every problem and
/// exits 78.
///
/// A valid file also gets what it decides about identity and secrets, which no other key's
/// default changes as much: each route's key rule (the headers left out, or the explicit
/// `varyHeaders` list) and private response headers, and the redacted query parameters. An
/// upstream host name that does not resolve here is a warning, not an error: the relay starts
/// with it and keeps resolving it (a backend container may not exist yet).
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file without starting anything."
    )

    @Argument(help: "The JSON configuration file.")
    var path: String

    func run() throws {
        let configuration = try ConfigurationOptions.loadOrExit(path: self.path)
        print("\(self.path): configuration is valid")
        for (index, route) in configuration.streams.enumerated() {
            print("streams[\(index)] \(route.path): stream key headers: \(route.keyRuleDescription)")
            let privateHeaders =
                route.privateResponseHeaders.isEmpty ? "none" : route.privateResponseHeaders.joined(separator: ", ")
            print("streams[\(index)] \(route.path): private response headers: \(privateHeaders)")
        }
        let redacted = configuration.log.redactQueryParameters
        print("log.redactQueryParameters: \(redacted.isEmpty ? "none" : redacted.joined(separator: ", "))")
        let servers = configuration.upstream.servers
        for (index, server) in servers.enumerated() {
            let upstream = server.url
            guard (try? SocketAddress(ipAddress: upstream.host, port: upstream.port)) == nil else { continue }
            do {
                _ = try SystemHostResolver.resolveBlocking(host: upstream.host, port: upstream.port)
            } catch {
                let key = servers.count == 1 ? "upstream.url" : "upstream.servers[\(index)]"
                let consequence =
                    servers.count == 1
                    ? "answering 502 until it resolves" : "failing over to the other servers until it resolves"
                print(
                    "warning: \(key): \(error); the relay would start and resolve it again every "
                        + "upstream.resolveIntervalSeconds, \(consequence)")
            }
        }
    }
}
