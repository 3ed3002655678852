/// The origin of the backend: `http://HOST:PORT`, a ``HostAndPort`` behind the `http` scheme.
///
/// Only plain `http` is accepted: the relay talks to a backend beside it, and TLS to the
/// upstream is out of scope for now. A path is rejected rather than silently ignored or
/// prefixed, because request targets are forwarded as the client sent them (stream requests
/// with their path normalised), never under a prefix.
public struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    /// The port an `http://` URL means when it names none.
    static let defaultPort = 80

    /// Where the backend listens; the port is ``defaultPort`` when the URL names none.
    public var address: HostAndPort

    /// The backend's host name or IP address (an IPv6 address without brackets).
    public var host: String {
        get { self.address.host }
        set { self.address.host = newValue }
    }

    /// The backend's port.
    public var port: Int {
        get { self.address.port }
        set { self.address.port = newValue }
    }

    /// `http://` and `address`.
    public init(address: HostAndPort) {
        self.address = address
    }

    /// `http://host:port`.
    public init(host: String, port: Int) {
        self.init(address: HostAndPort(host: host, port: port))
    }

    /// Parses `http://HOST[:PORT]` (a trailing `/` is allowed); the host and port are read as
    /// ``HostAndPort`` reads them.
    public init(parsing text: String) throws(ConfigurationValueError) {
        let prefix = "http://"
        guard text.lowercased().hasPrefix(prefix) else {
            if text.lowercased().hasPrefix("https://") {
                throw ConfigurationValueError("TLS to the upstream is not supported, use an http:// URL")
            }
            throw ConfigurationValueError("expected an http:// URL such as http://127.0.0.1:3000")
        }
        var authority = Substring(text.dropFirst(prefix.count))
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.contains(where: { $0 == "/" || $0 == "?" || $0 == "#" || $0 == "@" }) else {
            throw ConfigurationValueError("expected only scheme, host and port (no path, query, fragment or user)")
        }
        let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
        self.init(
            address: try HostAndPort(parsing: hasPort ? String(authority) : "\(authority):\(Self.defaultPort)"))
    }

    /// The value of the `Host` header for requests the relay makes itself (health checks), and
    /// the authority of ``description``: the port is left out when it is ``defaultPort``.
    public var hostHeader: String {
        self.port == Self.defaultPort ? self.address.uriHost : self.address.description
    }

    public var description: String { "http://\(self.hostHeader)" }
}
