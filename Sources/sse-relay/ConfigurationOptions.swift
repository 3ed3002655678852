import ArgumentParser
import SSERelay
import SSERelayCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The flags that choose the configuration file and override its keys.
struct ConfigurationOptions: ParsableArguments {
    @Option(help: "JSON configuration file. Without it the embedded defaults apply.")
    var config: String?

    @Option(help: "Address for proxied traffic, HOST:PORT (overrides `listen`).")
    var listen: String?

    @Option(help: "Backend origin, http://HOST:PORT (overrides `upstream.url`).")
    var upstream: String?

    @Option(help: "Address of the admin listener, HOST:PORT (overrides `admin.listen`).")
    var admin: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical (overrides `log.level`).")
    var logLevel: String?

    /// The configuration, or exit status 78 (EX_CONFIG) after printing every problem.
    func loadOrExit() throws -> RelayConfiguration {
        try Self.loadOrExit(path: self.config, overrides: self.overrides)
    }

    /// The configuration as a reload reads it: the file again, the same flags on top.
    func load() throws -> RelayConfiguration {
        try Self.load(path: self.config, overrides: self.overrides)
    }

    private var overrides: ConfigurationOverrides {
        ConfigurationOverrides(listen: self.listen, upstream: self.upstream, admin: self.admin, logLevel: self.logLevel)
    }

    /// The file at `path` (or the embedded defaults) with `overrides` applied.
    static func load(path: String?, overrides: ConfigurationOverrides) throws -> RelayConfiguration {
        let base = try path.map(ConfigurationLoader.load(fileAt:)) ?? RelayConfiguration()
        return try overrides.applied(to: base)
    }

    /// The file at `path` (or the embedded defaults) with `overrides` applied, or exit status
    /// 78 (EX_CONFIG) after printing every problem to stderr.
    static func loadOrExit(path: String?, overrides: ConfigurationOverrides = .init()) throws -> RelayConfiguration {
        let configuration: RelayConfiguration
        do {
            configuration = try Self.load(path: path, overrides: overrides)
        } catch {
            Self.printProblems("\(error)")
            throw ExitCode(78)
        }
        // What the file names must also be readable: a CA file is read now, not at the first
        // request, and so are the cluster's secrets.
        do {
            try ProxyServer.checkUpstreamTLS(configuration.upstream)
            try ProxyServer.checkClusterSecrets(configuration.cluster)
        } catch {
            Self.printProblems("\(path ?? "(embedded defaults)"): \(error)")
            throw ExitCode(78)
        }
        return configuration
    }

    /// Prints a configuration's problems to stderr.
    private static func printProblems(_ problems: String) {
        var message = "sse-relay: invalid configuration\n\(problems)\n"
        message.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
    }
}
