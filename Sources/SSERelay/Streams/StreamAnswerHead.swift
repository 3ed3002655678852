import NIOHTTP1
import SSERelayCore

/// The upstream's `200 text/event-stream` head for a generation, with the part of its clients'
/// heads that depends only on it made once: the upstream's headers less hop-by-hop, framing and
/// SSE headers, with the relay's `Via`.
///
/// Every client of a generation gets those headers (see ``StreamResponseHead``); making them per
/// client took about 19,000 instructions of a join (callgrind), most of them searching and
/// removing fields from a copy of the same upstream head.
struct StreamAnswerHead: Sendable {
    /// The head as the upstream sent it, for the inspection endpoint.
    let upstream: HTTPResponseHead
    /// What the client that started the generation gets from the upstream's headers.
    let starterHeaders: HTTPHeaders
    /// What every other client gets: ``starterHeaders`` less the route's private response
    /// headers (`Set-Cookie` by default), which answer the starter's request alone.
    let sharedHeaders: HTTPHeaders

    init(upstream: HTTPResponseHead, route: StreamRouteConfiguration) {
        var headers = upstream.headers
        HopByHopHeaders.remove(from: &headers)
        for name in ["content-length", "content-type", "cache-control", "x-accel-buffering", "content-encoding"] {
            headers.remove(name: name)
        }
        if let name = route.responseHeader {
            headers.remove(name: name)
        }
        ProxyHeaderPolicy.appendVia(to: &headers, receivedVersion: upstream.version)
        self.upstream = upstream
        self.starterHeaders = headers
        ProxyHeaderPolicy.removePrivateResponseHeaders(route.privateResponseHeaders, from: &headers)
        self.sharedHeaders = headers
    }

    /// The upstream's headers for a client that came as `mode`.
    func headers(for mode: StreamSubscriber.Mode) -> HTTPHeaders {
        mode == .started ? self.starterHeaders : self.sharedHeaders
    }
}
