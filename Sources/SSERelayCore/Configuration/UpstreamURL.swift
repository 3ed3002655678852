/// The origin of a backend server: `http://HOST:PORT` or `https://HOST:PORT`, a ``HostAndPort``
/// behind a ``Scheme``.
///
/// A path is rejected rather than silently ignored or prefixed, because request targets are
/// forwarded as the client sent them (stream requests with their path normalised), never under
/// a prefix.
public struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    /// How the relay talks to the server.
    public enum Scheme: String, Sendable, Hashable {
        /// Plain HTTP/1.1 over TCP.
        case http
        /// HTTP/1.1 over TLS, the server's certificate verified (`upstream.tls`).
        case https

        /// The port a URL of this scheme means when it names none.
        public var defaultPort: Int {
            switch self {
            case .http: return 80
            case .https: return 443
            }
        }
    }

    public var scheme: Scheme

    /// Where the backend listens; the port is the scheme's default when the URL names none.
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

    /// `scheme://` and `address`.
    public init(scheme: Scheme = .http, address: HostAndPort) {
        self.scheme = scheme
        self.address = address
    }

    /// `scheme://host:port`.
    public init(scheme: Scheme = .http, host: String, port: Int) {
        self.init(scheme: scheme, address: HostAndPort(host: host, port: port))
    }

    /// Parses `http://HOST[:PORT]` or `https://HOST[:PORT]` (a trailing `/` is allowed); the host
    /// and port are read as ``HostAndPort`` reads them.
    public init(parsing text: String) throws(ConfigurationValueError) {
        let lowercased = text.lowercased()
        guard let scheme = [Scheme.http, .https].first(where: { lowercased.hasPrefix("\($0.rawValue)://") }) else {
            throw ConfigurationValueError("expected an http:// or https:// URL such as http://127.0.0.1:3000")
        }
        var authority = Substring(text.dropFirst(scheme.rawValue.count + 3))
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.contains(where: { $0 == "/" || $0 == "?" || $0 == "#" || $0 == "@" }) else {
            throw ConfigurationValueError("expected only scheme, host and port (no path, query, fragment or user)")
        }
        let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
        self.init(
            scheme: scheme,
            address: try HostAndPort(parsing: hasPort ? String(authority) : "\(authority):\(scheme.defaultPort)"))
    }

    /// The value of the `Host` header for requests the relay makes itself (health checks, and
    /// requests that came without one), and the authority of ``description``: the port is
    /// left out when it is the scheme's default.
    public var hostHeader: String {
        self.port == self.scheme.defaultPort ? self.address.uriHost : self.address.description
    }

    public var description: String { "\(self.scheme.rawValue)://\(self.hostHeader)" }
}
