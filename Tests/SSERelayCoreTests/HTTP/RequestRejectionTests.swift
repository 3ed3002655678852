import NIOHTTP1
import Testing

@testable import SSERelayCore

/// Requests refused before routing (RFC 9112 §3.2, §9.3.6), and the stream request's head.
@Suite("ProxyHeaderPolicy: rejections and stream heads")
struct RequestRejectionTests {
    private func head(
        _ headers: [(String, String)], method: HTTPMethod = .GET, version: HTTPVersion = .http1_1
    ) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: "/x", headers: HTTPHeaders(headers))
    }

    @Test("CONNECT is 405; no Host or two Hosts on HTTP/1.1 is 400; HTTP/1.0 may omit Host")
    func rejections() {
        #expect(
            ProxyHeaderPolicy.rejection(of: self.head([("Host", "a")], method: .CONNECT))?.status == .methodNotAllowed)
        #expect(ProxyHeaderPolicy.rejection(of: self.head([("Host", "a"), ("Host", "b")]))?.status == .badRequest)
        #expect(ProxyHeaderPolicy.rejection(of: self.head([]))?.status == .badRequest)
        #expect(ProxyHeaderPolicy.rejection(of: self.head([], version: .http1_0)) == nil)
        #expect(ProxyHeaderPolicy.rejection(of: self.head([("Host", "a")])) == nil)
    }

    @Test("a stream request goes upstream without body framing, unencoded, with only the forwarded id")
    func streamHead() {
        let request = self.head([
            ("Host", "a"), ("Content-Length", "1"), ("Last-Event-ID", "x-1"), ("Accept-Encoding", "gzip"),
        ])
        let withoutID = ProxyHeaderPolicy.upstreamStreamRequestHead(
            for: request, clientAddress: "192.0.2.1", forwardedLastEventID: nil, upstreamHost: "b")
        #expect(!withoutID.headers.contains(name: "content-length"))
        #expect(!withoutID.headers.contains(name: "transfer-encoding"))
        #expect(!withoutID.headers.contains(name: "last-event-id"))
        #expect(withoutID.headers["accept-encoding"] == ["identity"])
        let chunked = self.head([("Host", "a"), ("Transfer-Encoding", "chunked")])
        let withID = ProxyHeaderPolicy.upstreamStreamRequestHead(
            for: chunked, clientAddress: nil, forwardedLastEventID: "up-3", upstreamHost: "b")
        #expect(!withID.headers.contains(name: "transfer-encoding"))
        #expect(withID.headers["last-event-id"] == ["up-3"])
    }
}
