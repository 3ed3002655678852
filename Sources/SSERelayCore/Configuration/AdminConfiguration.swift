/// `admin`: the operators' listener (metrics, stream inspection, health).
public struct AdminConfiguration: Sendable, Hashable {
    /// `admin.listen` (string or null, default `127.0.0.1:9090`): where the admin listener
    /// binds; `null` turns it off. Never the proxy's own port.
    public var listen: HostAndPort? = HostAndPort(host: "127.0.0.1", port: 9090)
    /// `admin.token` (string or null, default null): when set, admin requests must carry
    /// `Authorization: Bearer <token>`. Never logged.
    public var token: String?

    public init() {}

    init(reading reader: inout ConfigurationObjectReader) {
        self.init()
        if let value = reader.value("listen"), value == .null {
            self.listen = nil
        } else {
            self.listen = reader.parsed(
                "listen", default: self.listen,
                { text throws(ConfigurationValueError) in
                    try HostAndPort(parsing: text)
                })
        }
        self.token = reader.optionalString("token", default: nil)
        if let token = self.token, token.isEmpty {
            reader.report("token", "must not be empty (use null for no token)")
            self.token = nil
        }
    }
}
