import NIOCore
import NIOEmbedded
import NIOHTTP1
import SSERelayCore
import Testing

/// ``ErrorResponse`` frames a one-line plain-text body, and its pre-encoded form is a response
/// NIO's own client parser reads back unchanged.
@Suite("ErrorResponse")
struct ErrorResponseTests {
    /// Responses the relay makes, including a message whose UTF-8 length differs from its
    /// character count.
    static let responses: [ErrorResponse] = [
        ErrorResponse(status: .badRequest, message: "malformed HTTP request: invalid header token"),
        ErrorResponse(status: .requestTimeout, message: "request header not received within 10 s"),
        ErrorResponse(status: .requestHeaderFieldsTooLarge, message: "request header larger than 32768 bytes"),
        ErrorResponse(status: .badGateway, message: "upstream unavailable: connection refused"),
        ErrorResponse(status: .gatewayTimeout, message: "délai dépassé — «upstream» 🕰"),
        ErrorResponse(
            status: .serviceUnavailable,
            message: "the relay is at its limit of 7 connections, retry shortly",
            extraHeaders: [("Retry-After", "1"), ("X-Extra", "a, b")]
        ),
        ErrorResponse(status: .internalServerError, message: ""),
    ]

    struct FramingCase: Sendable, CustomTestStringConvertible {
        var version: HTTPVersion
        var close: Bool
        var connection: [String]

        var testDescription: String { "\(self.version) close=\(self.close)" }
    }

    static let framingCases: [FramingCase] = [
        FramingCase(version: .http1_1, close: true, connection: ["close"]),
        FramingCase(version: .http1_1, close: false, connection: []),
        FramingCase(version: .http1_0, close: true, connection: ["close"]),
        FramingCase(version: .http1_0, close: false, connection: ["keep-alive"]),
    ]

    @Test("the head frames the body and says whether the connection stays", arguments: Self.framingCases)
    func headFraming(framing: FramingCase) {
        let response = ErrorResponse(status: .badGateway, message: "upstream unavailable: délai")
        let head = response.head(version: framing.version, close: framing.close)
        #expect(head.version == framing.version)
        #expect(head.status == .badGateway)
        #expect(head.headers["Connection"] == framing.connection)
        // "é" is two bytes: the length counts bytes, plus the trailing newline.
        #expect(head.headers["Content-Length"] == ["29"])
        #expect(head.headers["Content-Type"] == ["text/plain; charset=utf-8"])
        #expect(head.headers["Cache-Control"] == ["no-store"])
        #expect(!head.headers.contains(name: "Transfer-Encoding"))
    }

    @Test("Content-Length is the body's byte count", arguments: Self.responses)
    func contentLengthMatchesBody(response: ErrorResponse) {
        let head = response.head(version: .http1_1, close: false)
        let body = response.body(allocator: ByteBufferAllocator())
        #expect(head.headers["Content-Length"] == [String(body.readableBytes)])
        #expect(body.readableBytes == response.message.utf8.count + 1)
        #expect(String(buffer: body) == response.message + "\n")
    }

    @Test("extra headers come after the fixed ones and before Connection")
    func extraHeadersOrder() {
        let response = ErrorResponse(
            status: .serviceUnavailable,
            message: "busy",
            extraHeaders: [("Retry-After", "1"), ("X-Reason", "limit")]
        )
        let names = response.head(version: .http1_1, close: true).headers.map(\.name)
        #expect(names == ["Content-Type", "Content-Length", "Cache-Control", "Retry-After", "X-Reason", "Connection"])
    }

    @Test("the encoded response is byte for byte an HTTP/1.1 response that closes")
    func encodedBytes() {
        let response = ErrorResponse(
            status: .serviceUnavailable,
            message: "the relay is at its limit of 7 connections, retry shortly",
            extraHeaders: [("Retry-After", "1")]
        )
        let encoded = response.encoded(allocator: ByteBufferAllocator())
        let expected =
            "HTTP/1.1 503 Service Unavailable\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: 58\r\n"
            + "Cache-Control: no-store\r\n"
            + "Retry-After: 1\r\n"
            + "Connection: close\r\n"
            + "\r\n"
            + "the relay is at its limit of 7 connections, retry shortly\n"
        #expect(String(buffer: encoded) == expected)
    }

    @Test("NIO's response parser reads the encoded response back unchanged", arguments: Self.responses)
    func encodedParsesBack(response: ErrorResponse) throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPResponseDecoder()))
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        // The response decoder pairs each response with a request it saw go out.
        try channel.writeOutbound(
            HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")))
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))

        try channel.writeInbound(response.encoded(allocator: channel.allocator))

        let expectedHead = response.head(version: .http1_1, close: true)
        guard case .head(let head) = try #require(try channel.readInbound(as: HTTPClientResponsePart.self)) else {
            Issue.record("the first part is not a head")
            return
        }
        #expect(head.version == .http1_1)
        #expect(head.status == response.status)
        #expect(head.headers.map { [$0.name, $0.value] } == expectedHead.headers.map { [$0.name, $0.value] })

        var body = channel.allocator.buffer(capacity: 0)
        var sawEnd = false
        while let part = try channel.readInbound(as: HTTPClientResponsePart.self) {
            switch part {
            case .head:
                Issue.record("a second head")
            case .body(var chunk):
                #expect(!sawEnd, "body after end")
                body.writeBuffer(&chunk)
            case .end(let trailers):
                #expect(trailers == nil)
                sawEnd = true
            }
        }
        #expect(sawEnd, "the parser did not see the end of the response")
        #expect(String(buffer: body) == response.message + "\n")
    }
}
