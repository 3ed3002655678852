import NIOHTTP1
import Testing

@testable import SSERelayCore

@Suite("ProxyHeaderPolicy")
struct ProxyHeaderPolicyTests {
    private static func request(
        _ headers: [(String, String)],
        method: HTTPMethod = .GET,
        uri: String = "/api/items?page=2",
        version: HTTPVersion = .http1_1
    ) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    private static func upstream(
        _ request: HTTPRequestHead,
        clientAddress: String? = "192.0.2.7",
        upgrade: String? = nil
    ) -> HTTPRequestHead {
        ProxyHeaderPolicy.upstreamRequestHead(for: request, clientAddress: clientAddress, upgrade: upgrade)
    }

    // MARK: Request line

    @Test(
        "Keeps method and URI and always speaks HTTP/1.1 upstream",
        arguments: [
            (HTTPMethod.GET, "/", HTTPVersion.http1_1),
            (.POST, "/api/conversation/1/messages", .http1_0),
            (.PUT, "/a?b=c&d=e", .http1_1),
            (.DELETE, "/x/y/z", .http1_0),
            (.OPTIONS, "*", .http1_1),
            (.PATCH, "/p%20q", .http1_1),
            (.HEAD, "/api/conversation/1/stream", .http1_0),
        ]
    )
    func keepsRequestLine(method: HTTPMethod, uri: String, version: HTTPVersion) {
        let head = Self.upstream(Self.request([("Host", "h")], method: method, uri: uri, version: version))
        #expect(head.method == method)
        #expect(head.uri == uri)
        #expect(head.version == .http1_1)
    }

    // MARK: X-Forwarded-For

    @Test("Adds X-Forwarded-For with the client address")
    func addsForwardedFor() {
        let head = Self.upstream(Self.request([("Host", "h")]))
        #expect(head.headers["X-Forwarded-For"] == ["192.0.2.7"])
    }

    @Test(
        "Appends the client address to every existing X-Forwarded-For line, as one line",
        arguments: [
            ([("X-Forwarded-For", "203.0.113.1")], "203.0.113.1, 192.0.2.7"),
            ([("x-forwarded-for", "203.0.113.1, 198.51.100.2")], "203.0.113.1, 198.51.100.2, 192.0.2.7"),
            (
                [("X-Forwarded-For", "203.0.113.1"), ("X-FORWARDED-FOR", "198.51.100.2")],
                "203.0.113.1, 198.51.100.2, 192.0.2.7"
            ),
            ([("X-Forwarded-For", "a,b"), ("X-Forwarded-For", " c ")], "a, b, c, 192.0.2.7"),
        ] as [([(String, String)], String)]
    )
    func appendsForwardedFor(existing: [(String, String)], expected: String) {
        let head = Self.upstream(Self.request([("Host", "h")] + existing))
        #expect(head.headers["x-forwarded-for"] == [expected])
    }

    @Test("IPv6 client addresses are appended as they are")
    func forwardedForIPv6() {
        let head = Self.upstream(Self.request([("X-Forwarded-For", "10.0.0.1")]), clientAddress: "2001:db8::7")
        #expect(head.headers["x-forwarded-for"] == ["10.0.0.1, 2001:db8::7"])
    }

    @Test("Without a client address, X-Forwarded-For is left as it was")
    func noClientAddress() {
        let withExisting = Self.upstream(Self.request([("X-Forwarded-For", "203.0.113.1")]), clientAddress: nil)
        #expect(withExisting.headers["x-forwarded-for"] == ["203.0.113.1"])
        let without = Self.upstream(Self.request([("Host", "h")]), clientAddress: nil)
        #expect(!without.headers.contains(name: "x-forwarded-for"))
    }

    // MARK: X-Forwarded-Proto and X-Forwarded-Host

    @Test("Adds X-Forwarded-Proto: http and X-Forwarded-Host from Host when absent")
    func addsProtoAndHost() {
        let head = Self.upstream(Self.request([("Host", "chat.example.com:8080")]))
        #expect(head.headers["X-Forwarded-Proto"] == ["http"])
        #expect(head.headers["X-Forwarded-Host"] == ["chat.example.com:8080"])
    }

    @Test("Keeps X-Forwarded-Proto and X-Forwarded-Host set by a proxy in front, in any case")
    func keepsExistingProtoAndHost() {
        let head = Self.upstream(
            Self.request([
                ("Host", "relay.internal:8080"),
                ("x-forwarded-proto", "https"),
                ("X-FORWARDED-HOST", "chat.example.com"),
            ]))
        #expect(head.headers["X-Forwarded-Proto"] == ["https"])
        #expect(head.headers["X-Forwarded-Host"] == ["chat.example.com"])
    }

    @Test("Without a Host header, no X-Forwarded-Host is invented")
    func noHostNoForwardedHost() {
        let head = Self.upstream(Self.request([("Accept", "*/*")], version: .http1_0))
        #expect(!head.headers.contains(name: "x-forwarded-host"))
        #expect(!head.headers.contains(name: "host"))
        #expect(head.headers["X-Forwarded-Proto"] == ["http"])
    }

    // MARK: Host, Via

    @Test("Keeps Host exactly as the client sent it")
    func keepsHost() {
        let head = Self.upstream(Self.request([("Host", "Chat.Example.com:8080"), ("Accept", "*/*")]))
        #expect(head.headers["host"] == ["Chat.Example.com:8080"])
        #expect(head.headers.first?.name == "Host")
    }

    @Test(
        "Appends Via with the version the request arrived with",
        arguments: [
            (HTTPVersion.http1_1, [(String, String)](), "1.1 sse-relay"),
            (.http1_0, [], "1.0 sse-relay"),
            (.http1_1, [("Via", "1.1 cdn")], "1.1 cdn, 1.1 sse-relay"),
            (.http1_0, [("via", "1.0 a"), ("VIA", "1.1 b")], "1.0 a, 1.1 b, 1.0 sse-relay"),
        ]
    )
    func appendsVia(version: HTTPVersion, existing: [(String, String)], expected: String) {
        let head = Self.upstream(Self.request([("Host", "h")] + existing, version: version))
        #expect(head.headers["via"] == [expected])
    }

    @Test("appendVia on its own, as used for responses")
    func appendViaDirectly() {
        var headers = HTTPHeaders([("Content-Type", "text/plain")])
        ProxyHeaderPolicy.appendVia(to: &headers, receivedVersion: .http1_1)
        ProxyHeaderPolicy.appendVia(to: &headers, receivedVersion: .http1_0)
        #expect(headers["Via"] == ["1.1 sse-relay, 1.0 sse-relay"])
        #expect(headers["Content-Type"] == ["text/plain"])
        #expect(ProxyHeaderPolicy.viaPseudonym == "sse-relay")
    }

    // MARK: Removed headers

    @Test("Removes Expect, which the relay answers itself", arguments: ["Expect", "expect", "EXPECT"])
    func removesExpect(name: String) {
        let head = Self.upstream(
            Self.request([("Host", "h"), (name, "100-continue"), ("Content-Length", "10")], method: .POST))
        #expect(!head.headers.contains(name: "expect"))
        #expect(head.headers["content-length"] == ["10"])
    }

    @Test("Removes hop-by-hop headers, Proxy-* and those named by Connection, keeps end-to-end ones")
    func removesHopByHop() {
        let head = Self.upstream(
            Self.request([
                ("Host", "h"),
                ("Connection", "keep-alive, X-Hop"),
                ("Keep-Alive", "timeout=5"),
                ("X-Hop", "1"),
                ("TE", "trailers"),
                ("Trailer", "X-Checksum"),
                ("Proxy-Authorization", "Basic abc"),
                ("Proxy-Connection", "keep-alive"),
                ("Authorization", "Bearer t"),
                ("Cookie", "a=b"),
                ("Accept", "text/event-stream"),
                ("Last-Event-ID", "gen-4"),
            ]))
        for removed in [
            "connection", "keep-alive", "x-hop", "te", "trailer", "proxy-authorization", "proxy-connection", "upgrade",
            "transfer-encoding",
        ] {
            #expect(!head.headers.contains(name: removed), "\(removed) was forwarded")
        }
        #expect(head.headers["authorization"] == ["Bearer t"])
        #expect(head.headers["cookie"] == ["a=b"])
        #expect(head.headers["accept"] == ["text/event-stream"])
        #expect(head.headers["last-event-id"] == ["gen-4"])
    }

    @Test("The exact header list for a typical browser request")
    func exactHeadersForTypicalRequest() {
        let head = Self.upstream(
            Self.request([
                ("Host", "chat.example.com"),
                ("Connection", "keep-alive"),
                ("Accept", "text/event-stream"),
            ]))
        #expect(
            head.headers.map(\.name) == [
                "Host", "Accept", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Via",
            ])
        #expect(
            head.headers.map(\.value) == [
                "chat.example.com", "text/event-stream", "192.0.2.7", "http", "chat.example.com", "1.1 sse-relay",
            ])
    }

    // MARK: Framing and upgrades

    @Test(
        "Re-adds Transfer-Encoding: chunked for chunked request bodies only",
        arguments: [
            ([("Transfer-Encoding", "chunked")], true),
            ([("transfer-encoding", "CHUNKED")], true),
            ([("Transfer-Encoding", "gzip, chunked")], true),
            ([("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")], true),
            ([("Content-Length", "5")], false),
            ([], false),
        ] as [([(String, String)], Bool)]
    )
    func rechunks(framing: [(String, String)], chunked: Bool) {
        let head = Self.upstream(Self.request([("Host", "h")] + framing, method: .POST))
        #expect(head.headers["transfer-encoding"] == (chunked ? ["chunked"] : []))
    }

    @Test("A chunked request keeps no Connection header of its own")
    func chunkedRequestHasNoConnection() {
        let head = Self.upstream(
            Self.request([("Host", "h"), ("Connection", "close"), ("Transfer-Encoding", "chunked")], method: .POST))
        #expect(head.headers["transfer-encoding"] == ["chunked"])
        #expect(!head.headers.contains(name: "connection"))
    }

    @Test("Upgrade requests are forwarded with Connection: upgrade and the requested protocol")
    func upgradeRequests() {
        let request = Self.request([
            ("Host", "h"),
            ("Connection", "keep-alive, Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ])
        let upgrade = HopByHopHeaders.requestedUpgrade(in: request.headers)
        #expect(upgrade == "websocket")
        let head = Self.upstream(request, upgrade: upgrade)
        #expect(head.headers["connection"] == ["upgrade"])
        #expect(head.headers["upgrade"] == ["websocket"])
        #expect(head.headers["sec-websocket-key"] == ["dGhlIHNhbXBsZSBub25jZQ=="])
        #expect(head.headers["sec-websocket-version"] == ["13"])
        #expect(head.version == .http1_1)
    }

    @Test("An upgrade with a chunked body keeps Transfer-Encoding: the body goes before the switch")
    func upgradeKeepsChunkedBody() {
        let head = Self.upstream(
            Self.request([("Host", "h"), ("Transfer-Encoding", "chunked")], method: .POST), upgrade: "h2c")
        #expect(head.headers["upgrade"] == ["h2c"])
        #expect(head.headers["connection"] == ["upgrade"])
        #expect(head.headers["transfer-encoding"] == ["chunked"])
    }

    @Test("Without an upgrade argument, Connection and Upgrade from the client are not forwarded")
    func noUpgradeArgumentDropsUpgrade() {
        let head = Self.upstream(Self.request([("Host", "h"), ("Connection", "Upgrade"), ("Upgrade", "websocket")]))
        #expect(!head.headers.contains(name: "connection"))
        #expect(!head.headers.contains(name: "upgrade"))
    }

    // MARK: requestHasBody, isSafeToRetry

    @Test(
        "requestHasBody",
        arguments: [
            ([], false),
            ([("Content-Length", "0")], false),
            ([("content-length", "1")], true),
            ([("Content-Length", "1048576")], true),
            ([("Transfer-Encoding", "chunked")], true),
            ([("transfer-encoding", "gzip")], true),
            ([("Content-Length", "0"), ("Transfer-Encoding", "chunked")], true),
            ([("Content-Type", "application/json")], false),
        ] as [([(String, String)], Bool)]
    )
    func requestHasBody(headers: [(String, String)], hasBody: Bool) {
        #expect(ProxyHeaderPolicy.requestHasBody(Self.request(headers, method: .POST)) == hasBody)
    }

    @Test(
        "isSafeToRetry: idempotent methods without a body",
        arguments: [
            (HTTPMethod.GET, [(String, String)](), true),
            (.HEAD, [], true),
            (.OPTIONS, [], true),
            (.TRACE, [], true),
            (.PUT, [], true),
            (.DELETE, [], true),
            (.PUT, [("Content-Length", "0")], true),
            (.GET, [("Content-Length", "0")], true),
            (.PUT, [("Content-Length", "12")], false),
            (.DELETE, [("Transfer-Encoding", "chunked")], false),
            (.GET, [("Content-Length", "3")], false),
            (.POST, [], false),
            (.POST, [("Content-Length", "0")], false),
            (.PATCH, [], false),
            (.CONNECT, [], false),
            (.RAW(value: "PURGE"), [], false),
        ]
    )
    func isSafeToRetry(method: HTTPMethod, headers: [(String, String)], safe: Bool) {
        #expect(ProxyHeaderPolicy.isSafeToRetry(Self.request(headers, method: method)) == safe)
    }
}

@Suite("ProxyHeaderPolicy: Host for HTTP/1.0 clients")
struct ProxyHeaderPolicyHostTests {
    @Test("a request without Host gets the upstream's; one with Host keeps its own")
    func hostFallback() {
        let bare = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/x")
        let rewritten = ProxyHeaderPolicy.upstreamRequestHead(
            for: bare, clientAddress: nil, upgrade: nil, upstreamHost: "127.0.0.1:3000")
        #expect(rewritten.headers[canonicalForm: "host"] == ["127.0.0.1:3000"])
        #expect(rewritten.version == .http1_1)

        var withHost = bare
        withHost.headers.add(name: "Host", value: "app.example")
        let kept = ProxyHeaderPolicy.upstreamRequestHead(
            for: withHost, clientAddress: nil, upgrade: nil, upstreamHost: "127.0.0.1:3000")
        #expect(kept.headers[canonicalForm: "host"] == ["app.example"])
    }
}
