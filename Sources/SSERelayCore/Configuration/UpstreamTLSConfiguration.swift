/// `upstream.tls`: how the relay verifies the servers of `https://` URLs.
///
/// By default a server's certificate must chain to the system's trust store and name the URL's
/// host (SNI carries the host name; an IP address is matched against the certificate's IP
/// addresses), and the connection speaks HTTP/1.1 (ALPN `http/1.1`).
public struct UpstreamTLSConfiguration: Sendable, Hashable {
    /// `upstream.tls.caFile` (string or `null`, default `null`): a PEM file of the certificate
    /// authorities to trust instead of the system's, for a backend with a private CA. Read at
    /// start, and again by a reload that changes the `upstream` section.
    public var caFile: String?
    /// `upstream.tls.insecureSkipVerify` (boolean, default `false`): accept any certificate.
    /// For tests only: anyone on the path can then read and change the traffic. Logged as a
    /// warning at start and at every reload while it is on.
    public var insecureSkipVerify = false

    public init() {}
}

extension UpstreamTLSConfiguration {
    /// Reads `upstream.tls`.
    init(reading reader: inout ConfigurationObjectReader) {
        self.init()
        self.caFile = reader.optionalString("caFile", default: nil)
        if let caFile = self.caFile, caFile.isEmpty {
            reader.report("caFile", "expected a path to a PEM file, got an empty string")
            self.caFile = nil
        }
        self.insecureSkipVerify = reader.bool("insecureSkipVerify", default: false)
    }
}
