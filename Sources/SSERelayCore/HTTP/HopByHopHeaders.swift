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
    /// This runs twice per proxied request (its headers and the response's), and most
    /// messages carry at most `Connection` and `Keep-Alive`: so one pass over the headers
    /// finds what is present, comparing bytes in place, and `headers` is touched (its storage
    /// copied, when shared) only when something is to go.
    public static func remove(from headers: inout HTTPHeaders) {
        // Fields seen in `headers`, and names `Connection` nominates, which may be absent.
        var present: [String] = []
        var nominated: [String] = []
        for (name, value) in headers where Self.isFixedHopByHop(name) || HeaderBytes.name(name, hasPrefix: "proxy-") {
            present.append(name)
            if HeaderBytes.name(name, is: "connection") {
                HeaderBytes.forEachListElement(in: value) { token in
                    // The usual tokens, `keep-alive` (in the fixed set already) and `close`,
                    // cost no lowercased copy.
                    if Self.isFixedHopByHop(token) { return }
                    let name = HeaderBytes.name(token, is: "close") ? "close" : token.lowercased()
                    if !Self.nominationProof.contains(name) {
                        nominated.append(name)
                    }
                }
            }
        }
        for name in present {
            headers.remove(name: name)
        }
        for name in nominated where headers.contains(name: name) {
            headers.remove(name: name)
        }
    }

    /// Whether `name` is one of ``names``, in any case.
    static func isFixedHopByHop(_ name: some StringProtocol) -> Bool {
        switch name.utf8.count {
        case 2: HeaderBytes.name(name, is: "te")
        case 7: HeaderBytes.name(name, is: "trailer") || HeaderBytes.name(name, is: "upgrade")
        case 10: HeaderBytes.name(name, is: "connection") || HeaderBytes.name(name, is: "keep-alive")
        case 17: HeaderBytes.name(name, is: "transfer-encoding")
        default: false
        }
    }

    /// The value of the `Upgrade` header when the request asks for a protocol switch
    /// (`Connection: upgrade` and an `Upgrade` header), or `nil`.
    public static func requestedUpgrade(in headers: HTTPHeaders) -> String? {
        // Most requests carry no `Upgrade`: that answers without splitting `Connection`.
        guard headers.contains(name: "upgrade"),
            headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" })
        else {
            return nil
        }
        let upgrade = headers["upgrade"].joined(separator: ", ")
        return upgrade.isEmpty ? nil : upgrade
    }
}
