import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// A hostile request and the answer it must get.
struct HostileRequest: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: String
    /// The status line the relay must answer with before it closes the connection.
    var status = "HTTP/1.1 400 Bad Request"

    var testDescription: String { self.name }
}

/// Request smuggling shapes and other hostile request heads (RFC 9112 §6.1, §6.3):
/// each gets a defined answer, and none reaches the upstream in a form the upstream could
/// read differently from the relay.
@Suite("Hostile: request smuggling and malformed heads", .timeLimit(.minutes(2)))
struct HostileRequestSmugglingTests {
    private static let post = "POST /echo HTTP/1.1\r\nHost: a\r\n"
    private static let chunkedHello = "5\r\nhello\r\n0\r\n\r\n"
    private static let helloSHA256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

    /// Heads the parser (llhttp, strict) or the relay refuses outright: nothing is forwarded.
    static let refusedHeads: [HostileRequest] = [
        .init(
            name: "Content-Length and Transfer-Encoding",
            bytes: post
                + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
        ),
        .init(
            name: "Transfer-Encoding and Content-Length",
            bytes: post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
        .init(
            name: "duplicate equal Content-Length", bytes: post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
        .init(
            name: "conflicting Content-Length", bytes: post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        .init(name: "Content-Length list 5, 5", bytes: post + "Content-Length: 5, 5\r\n\r\nhello"),
        .init(name: "Content-Length +5", bytes: post + "Content-Length: +5\r\n\r\nhello"),
        .init(name: "Content-Length 5 5", bytes: post + "Content-Length: 5 5\r\n\r\nhello"),
        .init(name: "Content-Length 0x5", bytes: post + "Content-Length: 0x5\r\n\r\nhello"),
        .init(name: "Content-Length -1", bytes: post + "Content-Length: -1\r\n\r\nhello"),
        .init(name: "Content-Length empty", bytes: post + "Content-Length: \r\n\r\nhello"),
        .init(name: "Content-Length 10^23", bytes: post + "Content-Length: 99999999999999999999999\r\n\r\nhello"),
        .init(name: "Content-Length 2^64", bytes: post + "Content-Length: 18446744073709551616\r\n\r\nhello"),
        .init(
            name: "Transfer-Encoding gzip", bytes: post + "Transfer-Encoding: gzip\r\n\r\nhello",
            status: "HTTP/1.1 501 Not Implemented"),
        .init(
            name: "Transfer-Encoding chunked, gzip",
            bytes: post + "Transfer-Encoding: chunked, gzip\r\n\r\n" + chunkedHello),
        .init(
            name: "Transfer-Encoding xchunked", bytes: post + "Transfer-Encoding: xchunked\r\n\r\n" + chunkedHello,
            status: "HTTP/1.1 501 Not Implemented"),
        .init(
            name: "Transfer-Encoding chunked twice",
            bytes: post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedHello),
        .init(name: "space before the colon", bytes: post + "Transfer-Encoding : chunked\r\n\r\n" + chunkedHello),
        .init(name: "obs-fold", bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n"),
        .init(
            name: "obs-fold hiding Transfer-Encoding",
            bytes: post + "X-A: one\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"),
        .init(name: "first header line folded", bytes: "GET /echo HTTP/1.1\r\n Host: a\r\n\r\n"),
        .init(
            name: "bare CR inside the header block",
            bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: one\rX-B: two\r\n\r\n"),
        .init(name: "bare CR ending a value", bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: one\r\r\n\r\n"),
        .init(name: "bare LF ending a header", bytes: "GET /echo HTTP/1.1\r\nHost: a\nX-A: one\r\n\r\n"),
        .init(name: "bare LF everywhere", bytes: "GET /echo HTTP/1.1\nHost: a\n\n"),
        .init(name: "NUL in the method", bytes: "G\u{0}ET /echo HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(name: "NUL in the target", bytes: "GET /ec\u{0}ho HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(name: "NUL in a header name", bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nX-\u{0}A: one\r\n\r\n"),
        .init(name: "NUL in a header value", bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: o\u{0}ne\r\n\r\n"),
        .init(name: "control character in a value", bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: o\u{1}ne\r\n\r\n"),
        .init(name: "DEL in a value", bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: o\u{7F}ne\r\n\r\n"),
        .init(name: "tab in the target", bytes: "GET /ec\tho HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(name: "space in the target", bytes: "GET /echo x HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(name: "authority-form GET", bytes: "GET evil:80 HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(name: "HTTP/0.9 request line", bytes: "GET /echo\r\n\r\n"),
        .init(name: "unknown method", bytes: "FOO /echo HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(
            name: "100 kB method", bytes: String(repeating: "A", count: 100_000) + " /echo HTTP/1.1\r\nHost: a\r\n\r\n"),
        .init(name: "no Host", bytes: "GET /echo HTTP/1.1\r\n\r\n"),
        .init(name: "two Hosts", bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nHost: evil\r\n\r\n"),
        .init(
            name: "40 kB target",
            bytes: "GET /echo?" + String(repeating: "a", count: 40_000) + " HTTP/1.1\r\nHost: a\r\n\r\n",
            status: "HTTP/1.1 431 Request Header Fields Too Large"),
        .init(
            name: "40 kB header line",
            bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nX-A: " + String(repeating: "a", count: 40_000) + "\r\n\r\n",
            status: "HTTP/1.1 431 Request Header Fields Too Large"),
        .init(
            name: "300 header fields",
            bytes: "GET /echo HTTP/1.1\r\nHost: a\r\n" + (0..<300).map { "X-\($0): v\r\n" }.joined() + "\r\n",
            status: "HTTP/1.1 431 Request Header Fields Too Large"),
    ]

    @Test(
        "a refused head gets its status and a closed connection; nothing reaches the upstream", arguments: refusedHeads)
    func refusedHead(request: HostileRequest) async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            var counter = try await BackendRequestCounter(relay: relay)
            let answer = try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(request.bytes)
                return try await connection.readToEnd()
            }
            #expect(answer.hasPrefix(request.status + "\r\n"), "got \(answer.prefix(300).debugDescription)")
            #expect(answer.contains("\r\nConnection: close\r\n"))
            // Exactly one response: nothing after the error body its Content-Length frames.
            #expect(Self.isOneResponse(answer), "got \(answer.prefix(300).debugDescription)")
            // The relay serves on, and that one request is all the backend ever got.
            #expect(try await fetch(relay.address, .GET, "/hello").text == "hello world")
            #expect(try await counter.count() == 1)
        }
    }

    private static func isOneResponse(_ answer: String) -> Bool {
        guard let end = answer.range(of: "\r\n\r\n") else { return false }
        let length = answer[..<end.lowerBound].split(separator: "\r\n")
            .first { $0.hasPrefix("Content-Length: ") }
            .flatMap { Int($0.dropFirst("Content-Length: ".count)) }
        return length == answer[end.upperBound...].utf8.count
    }

    /// Bodies that turn out malformed after a valid head: the head may already be upstream,
    /// but the upstream never gets a complete request, and the connection is closed under it.
    static let refusedBodies: [HostileRequest] = [
        .init(name: "non-hex chunk size", bytes: "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        .init(
            name: "chunk size overflow",
            bytes: "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
        .init(name: "negative chunk size", bytes: "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"),
        .init(name: "chunk without its CRLF", bytes: "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
        .init(name: "chunks framed by bare LF", bytes: "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"),
        .init(
            name: "Content-Length in the trailers",
            bytes: "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n"),
    ]

    @Test("a malformed chunked body gets 400; the upstream never sees a complete request", arguments: refusedBodies)
    func refusedBody(request: HostileRequest) async throws {
        let upstream = try await ScriptedUpstream.start { connection, _ in
            // Answers nothing: a complete request would be a bug, and the relay must close.
            _ = try await connection.readRequest()
            try await connection.waitForPeerClose()
        }
        let result = await Result {
            let relay = try await RelayUnderTest.start(backend: nil) {
                $0.upstream.url = UpstreamURL(host: "127.0.0.1", port: upstream.port)
            }
            let answer = await Result {
                try await RawTestConnection.withConnection(to: relay.address) { connection in
                    try await connection.write("POST /upload HTTP/1.1\r\nHost: a\r\n" + request.bytes)
                    return try await connection.readToEnd()
                }
            }
            // Every upstream connection that got anything is closed by the relay.
            let closed = await Result {
                try await waitUntil("the relay closed the upstream connections") {
                    let log = upstream.log
                    let received = await log.received
                    let closedByPeer = await log.closedByPeer
                    return received.keys.allSatisfy { closedByPeer.contains($0) }
                }
            }
            await relay.stop()
            return (try answer.get(), try closed.get())
        }
        await upstream.stop()
        let (answer, _) = try result.get()
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "got \(answer.prefix(300).debugDescription)")
        for (_, text) in await upstream.log.received {
            #expect(text.hasPrefix("POST /upload HTTP/1.1\r\n"))
            #expect(!text.contains("0\r\n\r\n"), "the upstream got a complete body: \(text.debugDescription)")
        }
    }

    /// Accepted shapes: the upstream (Node's own llhttp) must see exactly what the relay parsed.
    static let forwarded: [HostileRequest] = [
        .init(name: "Content-Length with whitespace", bytes: post + "Content-Length:  5 \r\n\r\nhello"),
        .init(
            name: "Transfer-Encoding with a trailing space",
            bytes: post + "Transfer-Encoding: chunked \r\n\r\n" + chunkedHello),
        .init(
            name: "Transfer-Encoding after a tab", bytes: post + "Transfer-Encoding:\tchunked\r\n\r\n" + chunkedHello),
        .init(name: "Transfer-Encoding in capitals", bytes: post + "Transfer-Encoding: CHUNKED\r\n\r\n" + chunkedHello),
        .init(name: "chunk extension", bytes: post + "Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n"),
        .init(
            name: "Connection names Content-Length",
            bytes: post + "Connection: content-length\r\nContent-Length: 5\r\n\r\nhello"),
        .init(
            name: "Connection names Transfer-Encoding",
            bytes: post + "Connection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedHello),
        .init(name: "GET with a body", bytes: "GET /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
    ]

    @Test("an accepted edge case reaches the upstream framed as the relay parsed it", arguments: forwarded)
    func forwardedAsParsed(request: HostileRequest) async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            var counter = try await BackendRequestCounter(relay: relay)
            let answer = try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(request.bytes)
                return try await connection.readResponse()
            }
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "got \(answer.prefix(300).debugDescription)")
            let seen = try EchoSeen(rawResponse: answer)
            #expect(seen.url == "/echo")
            #expect(seen.bodyBytes == 5)
            #expect(seen.bodySha256 == Self.helloSHA256)
            // One framing, never both, and the one the relay used.
            let isChunked = request.bytes.lowercased().contains("transfer-encoding:")
            #expect(seen.headers["transfer-encoding"] == (isChunked ? "chunked" : nil))
            #expect(seen.headers["content-length"] == (isChunked ? nil : "5"))
            #expect(try await counter.count() == 1)
        }
    }

    @Test("a stream GET with a body: the body, a smuggled request, is dropped, never forwarded")
    func streamRequestBodyDropped() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            var counter = try await BackendRequestCounter(relay: relay)
            let smuggled = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
            let answer = try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    "GET /api/conversation/h-\(UUID().uuidString.prefix(8))/stream?events=1 HTTP/1.1\r\nHost: a\r\n"
                        + "Content-Length: \(smuggled.utf8.count)\r\nConnection: close\r\n\r\n\(smuggled)")
                return try await connection.readToEnd()
            }
            #expect(answer.contains("X-SSE-Relay: started\r\n"))
            #expect(answer.contains("data: token 1 of"))
            #expect(!answer.contains("hello world"))
            #expect(try await counter.count() == 1)
        }
    }
}

/// Bugs these tests found, fixed: each request is now refused or framed as RFC 9112 asks.
extension HostileRequestSmugglingTests {
    @Test("Transfer-Encoding: gzip, chunked is refused with 501, not forwarded without its gzip coding")
    func gzipChunkedKeepsItsCoding() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            let answer = try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(Self.post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + Self.chunkedHello)
                return try await connection.readResponse()
            }
            #expect(answer.hasPrefix("HTTP/1.1 501 Not Implemented\r\n"))
        }
    }

    @Test("an absolute-form target is refused with 400: its authority would override Host upstream")
    func absoluteFormTarget() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            let answer = try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write("GET http://evil/echo HTTP/1.1\r\nHost: a\r\n\r\n")
                return try await connection.readResponse()
            }
            #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        }
    }

    @Test("an absolute-form stream target is refused, not passed through around the stream engine")
    func absoluteFormStreamTarget() async throws {
        try await withRelay { relay in
            let conversation = "h-\(UUID().uuidString.prefix(8))"
            let answer = try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    "GET http://a/api/conversation/\(conversation)/stream?events=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                )
                return try await connection.readToEnd()
            }
            #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        }
    }

    @Test("HTTP/1.0 with Transfer-Encoding: the connection closes after the response (RFC 9112 §6.1)")
    func http10TransferEncodingCloses() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            var counter = try await BackendRequestCounter(relay: relay)
            let answer = try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    "POST /echo HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + Self.chunkedHello + "GET /hello HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
                let first = try await connection.readResponse()
                // The connection closes after the first response (RFC 9112 §6.1): nothing follows.
                let rest = try await connection.readResponseOrEnd()
                return (first, rest)
            }
            let seen = try EchoSeen(rawResponse: answer.0)
            #expect(seen.bodyBytes == 5)
            let forwarded = try await counter.count()
            #expect(answer.1.isEmpty)
            #expect(forwarded == 1)
        }
    }

    @Test("a header value with bytes that are not UTF-8 is refused, not forwarded altered")
    func obsTextIsKept() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            let answer = try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    bytes: Array("GET /echo HTTP/1.1\r\nHost: a\r\nX-A: o".utf8) + [0xFF] + Array("ne\r\n\r\n".utf8))
                return try await connection.readResponse()
            }
            #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        }
    }
}

extension RawTestConnection {
    /// The next `Content-Length` response, or "" when the server closed the connection first.
    func readResponseOrEnd() async throws -> String {
        do {
            return try await self.readResponse()
        } catch let error as FixtureError where error.description.hasPrefix("closed before") {
            return ""
        }
    }
}
