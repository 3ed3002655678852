/// The command-line flags that override the configuration file (`--listen`, `--upstream`, `--admin`, `--log-level`).
public struct ConfigurationOverrides: Sendable, Hashable {
    /// `--listen HOST:PORT`.
    public var listen: String?
    /// `--upstream URL`.
    public var upstream: String?
    /// `--admin HOST:PORT`.
    public var admin: String?
    /// `--log-level LEVEL`.
    public var logLevel: String?

    public init(listen: String? = nil, upstream: String? = nil, admin: String? = nil, logLevel: String? = nil) {
        self.listen = listen
        self.upstream = upstream
        self.admin = admin
        self.logLevel = logLevel
    }

    /// `configuration` with every given flag applied, or an error naming each bad flag.
    public func applied(to configuration: RelayConfiguration) throws(ConfigurationError) -> RelayConfiguration {
        var result = configuration
        var problems: [ConfigurationError.Problem] = []
        func apply<Value>(
            _ text: String?, flag: String, _ parse: (String) throws(ConfigurationValueError) -> Value,
            _ set: (Value) -> Void
        ) {
            guard let text else { return }
            do {
                set(try parse(text))
            } catch {
                problems.append(.init(location: flag, message: "\(error.message), got \"\(text)\""))
            }
        }
        apply(self.listen, flag: "--listen", HostAndPort.init(parsing:)) { result.listen = $0 }
        apply(self.upstream, flag: "--upstream", UpstreamURL.init(parsing:)) { result.upstream.url = $0 }
        apply(self.admin, flag: "--admin", HostAndPort.init(parsing:)) { result.admin.listen = $0 }
        apply(
            self.logLevel, flag: "--log-level",
            { text throws(ConfigurationValueError) in
                guard let level = LogConfiguration.Level(rawValue: text.lowercased()) else {
                    let levels = LogConfiguration.Level.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ConfigurationValueError("expected one of \(levels)")
                }
                return level
            }
        ) { result.log.level = $0 }
        // The file's own check (`admin.listen` must differ from `listen`) ran before the flags
        // were applied, so a flag that moves either listener onto the other is caught here,
        // before anything listens, instead of failing later with "address in use".
        if problems.isEmpty, self.listen != nil || self.admin != nil,
            let admin = result.admin.listen, admin == result.listen, admin.port != 0
        {
            let problem: ConfigurationError.Problem =
                self.admin != nil
                ? .init(location: "--admin", message: "must differ from listen (\(result.listen))")
                : .init(
                    location: "--listen", message: "must differ from admin.listen (\(admin)), which --admin can move")
            problems.append(problem)
        }
        // The same for the cluster's peer listener, which no flag moves: a flag that moves a
        // listener onto it is named.
        if problems.isEmpty, let peer = result.cluster?.peer.listen {
            let clashing = result.listenersSharingPeerAddress()
            for (key, flag, given) in [("listen", "--listen", self.listen), ("admin.listen", "--admin", self.admin)]
            where given != nil && clashing.contains(key) {
                problems.append(.init(location: flag, message: "must differ from cluster.peer.listen (\(peer))"))
            }
        }
        guard problems.isEmpty else {
            throw ConfigurationError(source: "command line", problems: problems)
        }
        return result
    }
}
