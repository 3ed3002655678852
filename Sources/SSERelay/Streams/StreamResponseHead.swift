import NIOHTTP1
import SSERelayCore

/// The response heads of stream requests.
///
/// Only the client whose request started the generation gets the route's private response
/// headers (`Set-Cookie` by default): they answer the starter's request, and a client that
/// joins or resumes, even under an equal key, must not be handed the starter's session.
enum StreamResponseHead {
    /// For a stream: the upstream's headers (CORS and the like) less hop-by-hop and framing
    /// headers, as ``StreamAnswerHead`` keeps them for `mode`, with the SSE headers the relay
    /// guarantees, framed for the client's version.
    static func make(
        from answer: StreamAnswerHead,
        request: HTTPRequestHead,
        route: StreamRouteConfiguration,
        mode: StreamSubscriber.Mode
    ) -> HTTPResponseHead {
        self.streamHead(headers: answer.headers(for: mode), request: request, route: route, mode: mode.rawValue)
    }

    /// For the `200` that tells a browser the upstream failed and to retry.
    static func failure(request: HTTPRequestHead, route: StreamRouteConfiguration) -> HTTPResponseHead {
        self.streamHead(headers: HTTPHeaders(), request: request, route: route, mode: nil)
    }

    /// The upstream's own non-SSE answer, relayed as it is (hop-by-hop headers aside, and the
    /// private ones for anyone but the starter).
    static func relayed(
        _ upstream: HTTPResponseHead, request: HTTPRequestHead, route: StreamRouteConfiguration,
        mode: StreamSubscriber.Mode
    ) -> HTTPResponseHead {
        var headers = upstream.headers
        HopByHopHeaders.remove(from: &headers)
        if mode != .started {
            ProxyHeaderPolicy.removePrivateResponseHeaders(route.privateResponseHeaders, from: &headers)
        }
        headers.remove(name: "content-length")
        ProxyHeaderPolicy.appendVia(to: &headers, receivedVersion: upstream.version)
        _ = ResponseFraming.frame(
            headers: &headers, status: upstream.status, requestMethod: request.method, clientVersion: request.version)
        if request.version == .http1_0 {
            headers.add(name: "Connection", value: "close")
        }
        return HTTPResponseHead(version: request.version, status: upstream.status, headers: headers)
    }

    private static func streamHead(
        headers: HTTPHeaders,
        request: HTTPRequestHead,
        route: StreamRouteConfiguration,
        mode: String?
    ) -> HTTPResponseHead {
        var headers = headers
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-cache, no-transform")
        headers.add(name: "X-Accel-Buffering", value: "no")
        if let name = route.responseHeader, let mode {
            headers.add(name: name, value: mode)
        }
        if request.version == .http1_0 {
            headers.add(name: "Connection", value: "close")
        } else {
            headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        return HTTPResponseHead(version: request.version, status: .ok, headers: headers)
    }
}
