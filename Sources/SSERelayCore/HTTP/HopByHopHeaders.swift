public import NIOHTTP1

/// The headers that describe one connection rather than the message (RFC 9110 §7.6.1), which
/// a proxy must not forward: `Connection` and every header it names, `Keep-Alive`, `Proxy-*`,
/// `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`.
public enum HopByHopHeaders {
    /// The fixed set, lowercased; headers starting with `proxy-` are hop-by-hop too.
    static let names = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"]

    /// Headers that `Connection` may not nominate: they frame and address the message, and a
    /// client that names them (`Connection: content-length`) would otherwise have the relay
    /// strip the body's framing and send the body on as a second request (smuggling), or drop
    /// the `Host`.
    static let nominationProof: Set<String> = ["content-length", "host"]

    /// Removes every hop-by-hop header from `headers`.
    ///
    /// In place and only what is present: this runs twice per proxied request (its headers
    /// and the response's), and most messages carry at most `Connection` and `Keep-Alive`.
    public static func remove(from headers: inout HTTPHeaders) {
        var nominated: [String] = []
        if headers.contains(name: "connection") {
            for token in headers[canonicalForm: "connection"] {
                let name = token.lowercased()
                if !self.nominationProof.contains(name) {
                    nominated.append(name)
                }
            }
        }
        let proxyHeaders = headers.compactMap { name, _ in Self.hasProxyPrefix(name) ? name : nil }
        Self.remove(self.names, from: &headers)
        Self.remove(nominated, from: &headers)
        Self.remove(proxyHeaders, from: &headers)
    }

    /// Removes the headers named `names`, touching `headers` (and copying their storage, when
    /// shared) only for a name that is present.
    private static func remove(_ names: [String], from headers: inout HTTPHeaders) {
        for name in names where headers.contains(name: name) {
            headers.remove(name: name)
        }
    }

    /// Whether `name` starts with `proxy-`, in any case, without making a lowercased copy.
    private static func hasProxyPrefix(_ name: String) -> Bool {
        let prefix = "proxy-".utf8
        guard name.utf8.count >= prefix.count else { return false }
        return zip(name.utf8, prefix).allSatisfy { byte, expected in
            let lowercased = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
            return lowercased == expected
        }
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
