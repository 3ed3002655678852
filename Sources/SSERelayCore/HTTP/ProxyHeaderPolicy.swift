public import NIOHTTP1

/// How the relay rewrites a message's head on its way through.
///
/// Requests: hop-by-hop headers removed, `X-Forwarded-For` appended, `X-Forwarded-Proto` and
/// `X-Forwarded-Host` added when absent (kept when a proxy in front of the relay already set
/// them, since that proxy saw the real scheme and host), `Via` appended, `Host` kept, `Expect`
/// answered by the relay itself. Responses: hop-by-hop headers removed, `Via` appended, framing
/// rewritten for the client's connection by ``ResponseFraming``.
public enum ProxyHeaderPolicy {
    /// The pseudonym this relay uses in `Via` (RFC 9110 §7.6.3).
    public static let viaPseudonym = "sse-relay"

    /// The head to send upstream for a client's request.
    ///
    /// - Parameters:
    ///   - request: The head as the client sent it.
    ///   - clientAddress: The client's IP address, for `X-Forwarded-For`.
    ///   - upgrade: The requested protocol when the request asks to switch protocols; it is
    ///     forwarded with `Connection: upgrade` so the upstream can answer `101`.
    ///   - upstreamHost: The `Host` to send when the client sent none (an HTTP/1.0 client may
    ///     not), since the request goes upstream as HTTP/1.1, which requires one.
    public static func upstreamRequestHead(
        for request: HTTPRequestHead,
        clientAddress: String?,
        upgrade: String?,
        upstreamHost: String? = nil
    ) -> HTTPRequestHead {
        var headers = request.headers
        let isChunked =
            headers.contains(name: "transfer-encoding")
            && headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() == "chunked" }
        HopByHopHeaders.remove(from: &headers)
        // One pass over what is left for the headers whose presence decides what is added or
        // removed below.
        var hasHost = false
        var hasExpect = false
        var hasForwardedProto = false
        var hasForwardedHost = false
        for (name, _) in headers {
            hasHost = hasHost || HeaderBytes.name(name, is: "host")
            hasExpect = hasExpect || HeaderBytes.name(name, is: "expect")
            hasForwardedProto = hasForwardedProto || HeaderBytes.name(name, is: "x-forwarded-proto")
            hasForwardedHost = hasForwardedHost || HeaderBytes.name(name, is: "x-forwarded-host")
        }
        if let upstreamHost, !hasHost {
            headers.add(name: "Host", value: upstreamHost)
        }
        if hasExpect {
            headers.remove(name: "expect")
        }

        if let clientAddress {
            self.append(clientAddress, toList: "X-Forwarded-For", in: &headers)
        }
        if !hasForwardedProto {
            headers.add(name: "X-Forwarded-Proto", value: "http")
        }
        if !hasForwardedHost, let host = headers.first(name: "host") {
            headers.add(name: "X-Forwarded-Host", value: host)
        }
        self.appendVia(to: &headers, receivedVersion: request.version)

        if let upgrade {
            headers.add(name: "Connection", value: "upgrade")
            headers.add(name: "Upgrade", value: upgrade)
        }
        if isChunked {
            // The body arrives de-chunked from the decoder; it is chunked again on the way out
            // (a request that asks for an upgrade may have a body too, sent before the switch).
            headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        return HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri, headers: headers)
    }

    /// The head sent upstream for a stream request: the client's, rewritten like any proxied
    /// request, without a body (the relay sends none: a client's body on a stream GET is read
    /// and dropped, so its framing headers must go too, or the backend would wait for it or
    /// take the next request's first bytes as it), asking for an unencoded body so the frames
    /// can be parsed, with the client's `Last-Event-ID` only when the relay forwards it (a
    /// client's id that names no buffered event may still mean something to the backend).
    ///
    /// `target`, when given, replaces the request's own: the normalised target the stream key
    /// was made from, so the backend serves the very stream the key names, whichever spelling
    /// of it the first client used.
    public static func upstreamStreamRequestHead(
        for request: HTTPRequestHead,
        target: String? = nil,
        clientAddress: String?,
        forwardedLastEventID: String?,
        upstreamHost: String
    ) -> HTTPRequestHead {
        var head = self.upstreamRequestHead(
            for: request, clientAddress: clientAddress, upgrade: nil, upstreamHost: upstreamHost)
        if let target {
            head.uri = target
        }
        head.headers.remove(name: "content-length")
        head.headers.remove(name: "transfer-encoding")
        head.headers.replaceOrAdd(name: "Accept-Encoding", value: "identity")
        head.headers.remove(name: "Last-Event-ID")
        if let forwardedLastEventID {
            head.headers.add(name: "Last-Event-ID", value: forwardedLastEventID)
        }
        return head
    }

    /// Removes the headers named `names` (lowercased) from a stream response for a client that
    /// did not start the generation: `Set-Cookie` and the like belong to the session of the
    /// request that reached the upstream, and a joiner must not be handed it.
    public static func removePrivateResponseHeaders(_ names: [String], from headers: inout HTTPHeaders) {
        for name in names where headers.contains(name: name) {
            headers.remove(name: name)
        }
    }

    /// Why a request must be refused before it is routed, if it must. Each rule closes a way
    /// for the relay and the backend to read one request differently:
    /// - `CONNECT` is `405`: the relay is a reverse proxy, not a tunnel to anywhere a client
    ///   names (RFC 9110 §9.3.6).
    /// - A target that is not origin-form (`/path`, or `*` for `OPTIONS`) is `400`: the
    ///   authority of an absolute-form target overrides `Host` for the backend (RFC 9112
    ///   §3.2.2) while the relay routes by path.
    /// - An HTTP/1.1 request with no `Host` or more than one is `400` (RFC 9112 §3.2).
    /// - A transfer coding other than `chunked` is `501` (RFC 9112 §6.1): the relay forwards
    ///   bodies de-chunked and chunked again, which would drop the other coding.
    /// - A header with bytes that are not UTF-8 is `400`: NIO's headers are strings, so such
    ///   bytes could not be forwarded as they came.
    public static func rejection(of request: HTTPRequestHead) -> (status: HTTPResponseStatus, reason: String)? {
        if request.method == .CONNECT {
            return (.methodNotAllowed, "CONNECT is not served by this reverse proxy")
        }
        if !request.uri.hasPrefix("/"), !(request.method == .OPTIONS && request.uri == "*") {
            return (.badRequest, "only origin-form request targets (/path) are served")
        }
        // One pass over the headers for what the rules below need.
        var hosts = 0
        var hasTransferEncoding = false
        var hasNonUTF8 = false
        for (name, value) in request.headers {
            if HeaderBytes.name(name, is: "host") {
                hosts += 1
            } else if HeaderBytes.name(name, is: "transfer-encoding") {
                hasTransferEncoding = true
            }
            hasNonUTF8 =
                hasNonUTF8 || HeaderBytes.containsReplacementCharacter(name)
                || HeaderBytes.containsReplacementCharacter(value)
        }
        if hasTransferEncoding {
            let codings = request.headers[canonicalForm: "transfer-encoding"].map { $0.lowercased() }
            if !codings.isEmpty, codings != ["chunked"] {
                return (.notImplemented, "transfer codings other than chunked are not supported")
            }
        }
        if hasNonUTF8 {
            return (.badRequest, "a header holds bytes that are not UTF-8")
        }
        if hosts > 1 {
            return (.badRequest, "more than one Host header")
        }
        if hosts == 0, request.version.major == 1, request.version.minor >= 1 {
            return (.badRequest, "an HTTP/1.1 request needs a Host header")
        }
        return nil
    }

    /// Whether a request head announces a body (`Content-Length` above zero or
    /// `Transfer-Encoding`).
    public static func requestHasBody(_ request: HTTPRequestHead) -> Bool {
        if request.headers.contains(name: "transfer-encoding") { return true }
        return request.headers.first(name: "content-length").map { $0 != "0" } ?? false
    }

    /// Whether a failed attempt may be repeated on a fresh connection: the method is idempotent
    /// and there is no body that might already be half sent.
    public static func isSafeToRetry(_ request: HTTPRequestHead) -> Bool {
        self.isIdempotent(request.method) && !self.requestHasBody(request)
    }

    /// Whether `method` is idempotent (RFC 9110 §9.2.2): sending it twice means what sending it
    /// once does.
    public static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: return true
        default: return false
        }
    }

    /// Appends this relay to `Via`, naming the protocol version the message arrived with.
    public static func appendVia(to headers: inout HTTPHeaders, receivedVersion: HTTPVersion) {
        let entry =
            switch receivedVersion {
            case .http1_1: self.viaEntryHTTP11
            default: "\(receivedVersion.major).\(receivedVersion.minor) \(self.viaPseudonym)"
            }
        self.append(entry, toList: "Via", in: &headers)
    }

    /// This relay's `Via` entry for the usual HTTP/1.1 message, made once.
    private static let viaEntryHTTP11 = "1.1 \(viaPseudonym)"

    /// Appends `entry` to the comma-separated list header `name`, joining earlier lines of it
    /// into one; the common message has none, and then nothing is joined.
    private static func append(_ entry: String, toList name: String, in headers: inout HTTPHeaders) {
        guard headers.contains(name: name) else {
            headers.add(name: name, value: entry)
            return
        }
        let previous = headers[canonicalForm: name]
        headers.remove(name: name)
        headers.add(name: name, value: (previous.map(String.init) + [entry]).joined(separator: ", "))
    }

    /// The last address of a forwarding header such as `X-Forwarded-For` (given as its field
    /// values, in order): the one the nearest proxy added, the only one it vouches for. `nil`
    /// when there is none.
    public static func lastForwardedAddress(in values: [String]) -> String? {
        for value in values.reversed() {
            let isSpace = { (character: Character) in character == " " || character == "\t" }
            guard let piece = value.split(separator: ",").last else { continue }
            let trimmed = piece.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
            if !trimmed.isEmpty {
                return String(trimmed)
            }
        }
        return nil
    }
}
