public import NIOHTTP1

/// How the body of a response to a client is delimited, decided once per response from the
/// request, the upstream's status and headers, and the client's HTTP version.
///
/// The relay sets the framing headers itself (NIO's automatic framing is off) because it knows
/// what NIO's encoder cannot: a response to `HEAD` keeps the upstream's `Content-Length` but
/// carries no body, and an HTTP/1.0 client can only be sent an unknown-length body by closing
/// the connection after it.
public enum ResponseFraming: Sendable, Hashable {
    /// No body follows the head (`HEAD`, 1xx, 204, 304).
    case noBody
    /// The upstream's `Content-Length` delimits the body.
    case contentLength
    /// `Transfer-Encoding: chunked`, for HTTP/1.1 clients when the length is unknown.
    case chunked
    /// The end of the body is the end of the connection (HTTP/1.0 client, unknown length).
    case untilClose

    /// The framing for a response and its headers rewritten to match: hop-by-hop headers are
    /// expected to be removed already; this adds `Transfer-Encoding` or removes a
    /// `Content-Length` that must not be sent.
    public static func frame(
        headers: inout HTTPHeaders,
        status: HTTPResponseStatus,
        requestMethod: HTTPMethod,
        clientVersion: HTTPVersion
    ) -> ResponseFraming {
        switch status.code {
        case 100..<200, 204:
            headers.remove(name: "content-length")
            return .noBody
        case 304:
            return .noBody
        default:
            break
        }
        if requestMethod == .HEAD {
            return .noBody
        }
        if headers.contains(name: "content-length") {
            return .contentLength
        }
        if clientVersion.major == 1 && clientVersion.minor >= 1 {
            headers.add(name: "Transfer-Encoding", value: "chunked")
            return .chunked
        }
        return .untilClose
    }
}
