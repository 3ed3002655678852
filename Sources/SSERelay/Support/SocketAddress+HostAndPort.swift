public import NIOCore

extension SocketAddress {
    /// `127.0.0.1:8080` or `[::1]:8080`: the address as a user writes it in the configuration.
    public var hostAndPort: String {
        let host = self.ipAddress ?? "?"
        let port = self.port.map(String.init) ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
