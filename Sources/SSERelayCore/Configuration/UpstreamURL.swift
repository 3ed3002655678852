/// The origin of the backend: `http://HOST:PORT`.
///
/// Only plain `http` is accepted: the relay talks to a backend beside it, and TLS is out of
/// scope for now. A path is rejected rather than silently ignored or prefixed, because
/// request targets are forwarded exactly as the client sent them.
public struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

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
        let address = try HostAndPort(parsing: hasPort ? String(authority) : "\(authority):80")
        self.init(host: address.host, port: address.port)
    }

    /// The value of the `Host` header for requests the relay makes itself (health checks).
    public var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return self.port == 80 ? host : "\(host):\(self.port)"
    }

    public var description: String { "http://\(self.hostHeader)" }
}
