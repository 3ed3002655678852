import NIOHTTP1
import Testing

@testable import SSERelayCore

@Suite("HopByHopHeaders")
struct HopByHopHeadersTests {
    private static func names(_ headers: HTTPHeaders) -> [String] {
        headers.map(\.name)
    }

    @Test(
        "Removes each header of the fixed set, in any case",
        arguments: [
            "Connection", "connection", "CONNECTION",
            "Keep-Alive", "keep-alive",
            "TE", "te",
            "Trailer", "TRAILER",
            "Transfer-Encoding", "transfer-encoding",
            "Upgrade", "uPgRaDe",
        ]
    )
    func removesFixedSet(name: String) {
        var headers = HTTPHeaders([("Host", "example.com"), (name, "x"), ("Accept", "*/*")])
        HopByHopHeaders.remove(from: &headers)
        #expect(Self.names(headers) == ["Host", "Accept"])
    }

    @Test(
        "Removes every Proxy-* header",
        arguments: ["Proxy-Authorization", "proxy-authenticate", "Proxy-Connection", "PROXY-Anything", "proxy-"]
    )
    func removesProxyHeaders(name: String) {
        var headers = HTTPHeaders([(name, "x"), ("X-Proxy-Id", "kept"), ("Proxyish", "kept")])
        HopByHopHeaders.remove(from: &headers)
        #expect(Self.names(headers) == ["X-Proxy-Id", "Proxyish"])
    }

    @Test("Removes the headers that Connection names, case-insensitively, across several Connection lines")
    func removesHeadersNamedByConnection() {
        var headers = HTTPHeaders([
            ("Connection", "close, X-Secret"),
            ("x-secret", "1"),
            ("X-SECRET", "2"),
            ("connection", " X-Other ,x-third"),
            ("X-Other", "3"),
            ("X-Third", "4"),
            ("X-Kept", "5"),
            ("Authorization", "Bearer t"),
        ])
        HopByHopHeaders.remove(from: &headers)
        #expect(Self.names(headers) == ["X-Kept", "Authorization"])
        #expect(headers["authorization"] == ["Bearer t"])
    }

    @Test("Connection can even name an end-to-end header, which is then not forwarded")
    func connectionCanNameEndToEndHeaders() {
        var headers = HTTPHeaders([("Connection", "Cookie"), ("Cookie", "a=b"), ("Accept", "text/event-stream")])
        HopByHopHeaders.remove(from: &headers)
        #expect(Self.names(headers) == ["Accept"])
    }

    @Test("Keeps end-to-end headers, their order and duplicate lines")
    func keepsEndToEndHeaders() {
        let original = HTTPHeaders([
            ("Host", "example.com"),
            ("Accept", "text/event-stream"),
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
            ("Last-Event-ID", "g-3"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("Via", "1.1 front"),
            ("Content-Length", "3"),
            ("Trailers", "not the Trailer header"),
        ])
        var headers = original
        HopByHopHeaders.remove(from: &headers)
        #expect(Self.names(headers) == Self.names(original))
        #expect(headers.map(\.value) == original.map(\.value))
    }

    @Test("Removing from empty headers leaves them empty")
    func removesFromEmpty() {
        var headers = HTTPHeaders()
        HopByHopHeaders.remove(from: &headers)
        #expect(headers.isEmpty)
    }

    // MARK: requestedUpgrade

    @Test(
        "Reports the requested protocol only with Connection: upgrade and an Upgrade header",
        arguments: [
            ([("Connection", "Upgrade"), ("Upgrade", "websocket")], "websocket"),
            ([("connection", "upgrade"), ("upgrade", "websocket")], "websocket"),
            ([("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket")], "websocket"),
            ([("Connection", "keep-alive"), ("Connection", "UPGRADE"), ("Upgrade", "h2c")], "h2c"),
            ([("Connection", "upgrade"), ("Upgrade", "foo/1"), ("Upgrade", "bar")], "foo/1, bar"),
            ([("Connection", "upgrade")], nil),
            ([("Connection", "upgrade"), ("Upgrade", "")], nil),
            ([("Upgrade", "websocket")], nil),
            ([("Connection", "keep-alive"), ("Upgrade", "websocket")], nil),
            ([("Connection", "upgraded"), ("Upgrade", "websocket")], nil),
            ([("X-Connection", "upgrade"), ("Upgrade", "websocket")], nil),
            ([], nil),
        ] as [([(String, String)], String?)]
    )
    func requestedUpgrade(headers: [(String, String)], expected: String?) {
        #expect(HopByHopHeaders.requestedUpgrade(in: HTTPHeaders(headers)) == expected)
    }
}

extension HopByHopHeadersTests {
    @Test("Connection cannot nominate Content-Length or Host: the framing and the address stay")
    func nominationProof() {
        var headers = HTTPHeaders([
            ("Host", "a"), ("Connection", "content-length, Host, x-hop"), ("Content-Length", "23"), ("X-Hop", "1"),
        ])
        HopByHopHeaders.remove(from: &headers)
        #expect(headers.first(name: "content-length") == "23")
        #expect(headers.first(name: "host") == "a")
        #expect(!headers.contains(name: "x-hop"))
        #expect(!headers.contains(name: "connection"))
    }
}
