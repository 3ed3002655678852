/// `upstream`: the backend the relay stands in front of: one server (`url`) or several
/// (`servers`).
public struct UpstreamConfiguration: Sendable, Hashable {
    /// The most servers `upstream.servers` may list.
    public static let maximumServers = 64

    /// `upstream.servers` (array of 1–64 URLs or `{ "url", "weight" }` objects): the backend's
    /// servers. `upstream.url` (string, default `http://127.0.0.1:3000`) is the shorthand for
    /// one; a configuration gives one key or the other.
    public var servers = [UpstreamServerConfiguration(url: UpstreamURL(host: "127.0.0.1", port: 3000))]

    /// The first server's origin; setting it makes it the only server (`upstream.url`,
    /// `--upstream`).
    public var url: UpstreamURL {
        get { self.servers.first?.url ?? UpstreamURL(host: "127.0.0.1", port: 3000) }
        set { self.servers = [UpstreamServerConfiguration(url: newValue)] }
    }

    /// `upstream.health`: when a server of several is taken out and put back.
    public var health = UpstreamHealthConfiguration()
    /// `upstream.tls`: how `https://` servers are verified.
    public var tls = UpstreamTLSConfiguration()
    /// `upstream.connectTimeoutSeconds` (number, default 2): how long a TCP connect may take.
    public var connectTimeoutSeconds: Double = 2
    /// `upstream.responseTimeoutSeconds` (number, default 30): how long the backend may take to
    /// send response headers once the request head is sent.
    public var responseTimeoutSeconds: Double = 30
    /// `upstream.maxConnections` (integer or `null`, default `null` = derived): the keep-alive
    /// pool of pass-through requests: open connections to the backend, idle and busy, across
    /// the process. Requests beyond it wait for a connection.
    ///
    /// Stream upstreams are not counted here: each holds a dedicated connection for its whole
    /// life, from a budget of its own, so distinct conversations never wait behind pass-through
    /// requests and never make them wait. `nil` (the key absent or `null`) means derived at
    /// start from the process's open-files limit, like `limits.maxConnections`.
    public var maxConnections: Int?
    /// `upstream.idleTimeoutSeconds` (number, default 4): how long a pooled keep-alive connection
    /// may sit unused. Below Node's default `keepAliveTimeout` of 5 s, so the relay closes an idle
    /// connection before the backend does and never reuses one the backend is closing.
    public var idleTimeoutSeconds: Double = 4
    /// `upstream.resolveIntervalSeconds` (number, default 30): how often the upstream's host
    /// name is resolved again, so a backend that gets a new address (a restarted container) is
    /// followed without a restart. A connection that cannot be opened asks for a resolution at
    /// once (at most one a second). Ignored when the host is an IP address.
    public var resolveIntervalSeconds: Double = 30

    public init() {}
}

extension UpstreamConfiguration {
    /// Reads `upstream`, which is an object or a bare URL string (shorthand for `{ "url": … }`).
    init(reading value: JSONValue, at path: ConfigurationKeyPath, problems: ConfigurationProblems) {
        self.init()
        if case .string(let text) = value {
            do {
                self.url = try UpstreamURL(parsing: text)
            } catch {
                problems.report(path, "\(error.message), got \(value.summary)")
            }
            return
        }
        guard var reader = ConfigurationObjectReader(value, at: path, problems: problems) else { return }
        self.readServers(&reader)
        self.connectTimeoutSeconds = reader.seconds("connectTimeoutSeconds", default: 2, in: 0.001...3600)
        self.responseTimeoutSeconds = reader.seconds("responseTimeoutSeconds", default: 30, in: 0.001...86400)
        self.maxConnections = reader.optionalInteger("maxConnections", default: nil, in: 1...1_000_000)
        self.idleTimeoutSeconds = reader.seconds("idleTimeoutSeconds", default: 4, in: 0.001...86400)
        self.resolveIntervalSeconds = reader.seconds("resolveIntervalSeconds", default: 30, in: 1...86400)
        self.health = reader.object("health", default: self.health) { UpstreamHealthConfiguration(reading: &$0) }
        self.tls = reader.object("tls", default: self.tls) { UpstreamTLSConfiguration(reading: &$0) }
        reader.finish()
    }

    /// Reads `url` or `servers`: one of them, and servers that are distinct.
    private mutating func readServers(_ reader: inout ConfigurationObjectReader) {
        let hasURL = reader.value("url") != nil
        guard reader.value("servers") != nil else {
            self.url = reader.parsed("url", default: self.url, UpstreamURL.init(parsing:))
            return
        }
        if hasURL {
            reader.report("servers", "give either upstream.url (one server) or upstream.servers, not both")
        }
        let servers = reader.array("servers", default: self.servers) { value, path, problems in
            UpstreamServerConfiguration(reading: value, at: path, problems: problems)
        }
        guard case .array(let elements)? = reader.value("servers") else { return }
        guard (1...Self.maximumServers).contains(elements.count) else {
            reader.report("servers", "expected 1 to \(Self.maximumServers) servers, got \(elements.count)")
            return
        }
        // A bad element was reported and left out; the default stands then.
        guard servers.count == elements.count else { return }
        // Host names are case-insensitive: `Backend` and `backend` are one server.
        var seen: [String: String] = [:]
        for (index, server) in servers.enumerated() {
            let address = "\(server.url.host.lowercased()):\(server.url.port)"
            guard let earlier = seen[address] else {
                seen[address] = server.url.host
                continue
            }
            let note = earlier != server.url.host ? ": host names are case-insensitive" : "; give it a weight instead"
            reader.report("servers", "\(server.url) is listed twice (at [\(index)])\(note)")
            return
        }
        self.servers = servers
    }
}
