public import NIOHTTP1

/// The headers that describe one connection rather than the message (RFC 9110 §7.6.1), which
/// a proxy must not forward: `Connection` and every header it names, `Keep-Alive`, `Proxy-*`,
/// `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`.
public enum HopByHopHeaders {
    /// The fixed set, lowercased; headers starting with `proxy-` are hop-by-hop too.
    static let names: Set<String> = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"]

    /// Headers that `Connection` may not nominate: they frame and address the message, and a
    /// client that names them (`Connection: content-length`) would otherwise have the relay
    /// strip the body's framing and send the body on as a second request (smuggling), or drop
    /// the `Host`.
    static let nominationProof: Set<String> = ["content-length", "host"]

    /// Removes every hop-by-hop header from `headers`.
    public static func remove(from headers: inout HTTPHeaders) {
        let named = Set(headers[canonicalForm: "connection"].map { $0.lowercased() }).subtracting(
            self.nominationProof)
        headers = HTTPHeaders(
            headers.filter { name, _ in
                let lowercased = name.lowercased()
                return !self.names.contains(lowercased) && !named.contains(lowercased)
                    && !lowercased.hasPrefix("proxy-")
            }
        )
    }

    /// The value of the `Upgrade` header when the request asks for a protocol switch
    /// (`Connection: upgrade` and an `Upgrade` header), or `nil`.
    public static func requestedUpgrade(in headers: HTTPHeaders) -> String? {
        guard headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return nil
        }
        let upgrade = headers["upgrade"].joined(separator: ", ")
        return upgrade.isEmpty ? nil : upgrade
    }
}
