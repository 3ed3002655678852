import FuzzSupport
import NIOHTTP1
import SSERelayCore

/// Checks the head the relay sends upstream against the client's (RFC 9110 §7.6).
///
/// Invariants:
/// - `request-line`: method unchanged, the target unchanged (a stream request's normalised),
///   version HTTP/1.1.
/// - `hop-by-hop`: no `Keep-Alive`, `TE`, `Trailer` or `Proxy-*`; `Connection: upgrade` and
///   `Upgrade` exactly when the client asked to switch protocols; `Transfer-Encoding: chunked`
///   exactly when the client's body was chunked (or none, for a protocol switch); no header that the
///   client's `Connection` named, unless the relay adds it itself.
/// - `host`: a `Host` header (an HTTP/1.1 request must have one, RFC 9112 §3.2).
/// - `single-host`: at most one `Host` header, so the backend cannot pick another one than the
///   relay's `X-Forwarded-Host`.
/// - `forwarded`: one `X-Forwarded-For` ending in the client's address, an `X-Forwarded-Proto`,
///   one `Via` ending in this relay's entry.
/// - `expect`: no `Expect` (the relay answers `100-continue` itself).
/// - `body-announced`: a request with body bytes is seen as having a body and is never retried.
enum HeadPolicyOracle {
    /// Headers the policy (or the stream head) adds after removing the hop-by-hop ones.
    static let addedByRelay: Set<String> = [
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via", "connection", "upgrade",
        "transfer-encoding", "accept-encoding", "last-event-id",
    ]

    static func check(_ request: DecodedRequest, sentAs upstream: RelayRequestModel.UpstreamRequest) {
        let client = request.head
        let head = upstream.head
        let context = "\(client.method) \(client.uri) \(client.headers.map { "\($0.name): \($0.value)" })"

        // A stream request goes upstream with its target normalised (the one its key names);
        // every other request with its target as sent.
        let target = upstream.streamRoute == nil ? client.uri : RequestTarget(normalizing: client.uri).upstreamTarget
        Oracle.check(
            head.method == client.method && head.uri == target && head.version == .http1_1, "request-line",
            "\(context) goes upstream as \(head.method) \(head.uri) \(head.version)")

        let names = head.headers.map { $0.name.lowercased() }
        for name in names {
            Oracle.check(
                !name.hasPrefix("proxy-") && !["keep-alive", "te", "trailer"].contains(name), "hop-by-hop",
                "\(context): \(name) goes upstream")
        }
        let connection = head.headers["connection"]
        let upgradeHeader = head.headers["upgrade"]
        if let upgrade = upstream.upgrade {
            Oracle.check(
                connection == ["upgrade"] && upgradeHeader == [upgrade], "hop-by-hop",
                "\(context): upgrade \(upgrade) goes upstream with Connection \(connection), Upgrade \(upgradeHeader)")
        } else {
            Oracle.check(
                connection.isEmpty && upgradeHeader.isEmpty, "hop-by-hop",
                "\(context): Connection \(connection), Upgrade \(upgradeHeader) go upstream")
        }
        let clientChunked = client.headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() == "chunked" }
        let transferEncoding = head.headers["transfer-encoding"]
        // A chunked body stays chunked upstream, an upgrade request's too; a stream request goes
        // upstream without a body, so without framing.
        let allowed: [[String]] = clientChunked && upstream.streamRoute == nil ? [["chunked"]] : [[]]
        Oracle.check(
            allowed.contains(transferEncoding), "hop-by-hop",
            "\(context): Transfer-Encoding \(transferEncoding) goes upstream")
        // `Content-Length` and `Host` may not be nominated: the relay keeps them whatever the
        // client's `Connection` says (a nominated `Content-Length` would smuggle the body).
        let named = Set(client.headers[canonicalForm: "connection"].map { $0.lowercased() })
            .subtracting(["content-length", "host"])
        for name in names where named.contains(name) {
            Oracle.check(
                self.addedByRelay.contains(name), "hop-by-hop",
                "\(context): \(name), named by Connection, goes upstream")
        }

        let hosts = head.headers["host"]
        Oracle.check(!hosts.isEmpty, "host", "\(context) goes upstream without Host: \(head.headers)")
        Oracle.check(hosts.count <= 1, "single-host", "\(context) goes upstream with Host \(hosts)")

        let forwardedFor = head.headers["x-forwarded-for"]
        Oracle.check(
            forwardedFor.count == 1
                && forwardedFor.first?.split(separator: ",").last?.trimmingSpaces == RelayRequestModel.clientAddress,
            "forwarded", "\(context): X-Forwarded-For \(forwardedFor)")
        Oracle.check(head.headers.contains(name: "x-forwarded-proto"), "forwarded", "\(context): no X-Forwarded-Proto")
        let via = head.headers["via"]
        let viaEntry = "\(client.version.major).\(client.version.minor) \(ProxyHeaderPolicy.viaPseudonym)"
        Oracle.check(
            via.count == 1 && via.first?.split(separator: ",").last?.trimmingSpaces == viaEntry, "forwarded",
            "\(context): Via \(via)")

        Oracle.check(!head.headers.contains(name: "expect"), "expect", "\(context): Expect goes upstream")

        if request.bodyBytes > 0 {
            Oracle.check(
                ProxyHeaderPolicy.requestHasBody(client) && !ProxyHeaderPolicy.isSafeToRetry(client),
                "body-announced", "\(context) with \(request.bodyBytes) body bytes counts as bodiless")
        }
    }
}
