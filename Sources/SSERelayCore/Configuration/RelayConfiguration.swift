/// Everything the relay is told, with the embedded default of every key (README, "Configuration").
///
/// Built by ``ConfigurationLoader`` from a JSON file (or from nothing: `RelayConfiguration()`
/// is the embedded defaults), then adjusted by command-line flags.
public struct RelayConfiguration: Sendable, Hashable {
    /// `listen` (string, default `127.0.0.1:8080`): where proxied traffic is accepted.
    public var listen = HostAndPort(host: "127.0.0.1", port: 8080)
    /// `upstream`: the backend.
    public var upstream = UpstreamConfiguration()
    /// `admin`: the operators' listener.
    public var admin = AdminConfiguration()
    /// `streams` (array, default one route): the SSE stream routes.
    public var streams = [StreamRouteConfiguration.defaultRoute]
    /// `limits`: the protective bounds.
    public var limits = LimitsConfiguration()
    /// `shutdownGraceSeconds` (number, default 120): how long a shutdown waits for requests and
    /// streams in flight.
    public var shutdownGraceSeconds: Double = 120
    /// `log`: what is written to stderr.
    public var log = LogConfiguration()
    /// `cluster` (object or `null`, default `null`): the relays this one shares stream ownership
    /// with, through a directory in PostgreSQL. `nil`, the default, is a single node: no
    /// database, no peer listener.
    public var cluster: ClusterConfiguration?

    /// The embedded defaults.
    public init() {}
}

extension RelayConfiguration {
    init(reading reader: inout ConfigurationObjectReader, problems: ConfigurationProblems) {
        self.init()
        self.listen = reader.parsed("listen", default: self.listen, HostAndPort.init(parsing:))
        if let upstream = reader.value("upstream") {
            self.upstream = UpstreamConfiguration(
                reading: upstream, at: reader.path.appending("upstream"), problems: problems)
        }
        self.admin = reader.object("admin", default: self.admin) { AdminConfiguration(reading: &$0) }
        self.streams = reader.array(
            "streams", default: self.streams, StreamRouteConfiguration.init(reading:at:problems:))
        self.limits = reader.object("limits", default: self.limits) { LimitsConfiguration(reading: &$0) }
        self.shutdownGraceSeconds = reader.seconds(
            "shutdownGraceSeconds", default: self.shutdownGraceSeconds, in: 0...86400)
        self.log = reader.object("log", default: self.log) { LogConfiguration(reading: &$0) }
        switch reader.value("cluster") {
        case nil, .null?:
            self.cluster = nil
        case .object?:
            self.cluster = reader.object("cluster", default: nil) { ClusterConfiguration(reading: &$0) }
        case .string?:
            reader.report("cluster", ClusterDatabaseURL.misplacedMessage(expected: "expected an object or null"))
        case let value?:
            reader.report("cluster", "expected an object or null, got \(value.summary)")
        }
    }

    /// Problems that span several keys, found after each key was read on its own.
    func crossKeyProblems() -> [ConfigurationError.Problem] {
        var problems: [ConfigurationError.Problem] = []
        var seenPaths: [RoutePattern: Int] = [:]
        for (index, route) in self.streams.enumerated() {
            if let first = seenPaths[route.path] {
                problems.append(
                    .init(location: "streams[\(index)].path", message: "same path as streams[\(first)]: \(route.path)"))
            } else {
                seenPaths[route.path] = index
            }
        }
        if let admin = self.admin.listen, admin == self.listen, admin.port != 0 {
            problems.append(.init(location: "admin.listen", message: "must differ from listen (\(self.listen))"))
        }
        if let peer = self.cluster?.peer.listen {
            for key in self.listenersSharingPeerAddress() {
                problems.append(.init(location: "cluster.peer.listen", message: "must differ from \(key) (\(peer))"))
            }
        }
        return problems
    }

    /// The keys of the listeners, `listen` and `admin.listen`, that are set to the address of
    /// `cluster.peer.listen`, which only one of them could bind. Port 0 gives each its own port.
    /// The file's check and the command-line flags' (``ConfigurationOverrides``) both ask here.
    func listenersSharingPeerAddress() -> [String] {
        guard let peer = self.cluster?.peer.listen, peer.port != 0 else { return [] }
        var keys: [String] = []
        if peer == self.listen { keys.append("listen") }
        if peer == self.admin.listen { keys.append("admin.listen") }
        return keys
    }
}
