import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import SSERelay

/// The connections' encoders as channel handlers: every part of a message reaches the wire in
/// order, as NIO's encoders write it, and each write's promise completes in order. (The bytes of
/// every head and body shape are compared with NIO's in `MessageEncodingTests`.)
@Suite("FramedRequestEncoder and FramedResponseEncoder")
struct FramedEncoderTests {
    @Test("a chunked response, then a sized one, on one connection: NIO's bytes")
    func responses() throws {
        var nio = HTTPResponseEncoder.Configuration()
        nio.automaticallySetFramingHeaders = false
        let parts: [HTTPServerResponsePart] = [
            .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Transfer-Encoding": "chunked"])),
            .body(.byteBuffer(ByteBuffer(string: "small"))),
            .body(.byteBuffer(ByteBuffer(repeating: 0x61, count: 10_000))),
            .body(.byteBuffer(ByteBuffer())),
            .end(["Trailer-Field": "t"]),
            .head(HTTPResponseHead(version: .http1_1, status: .notFound, headers: ["Content-Length": "3"])),
            .body(.byteBuffer(ByteBuffer(string: "nope"))),
            .end(nil),
        ]
        #expect(
            try Self.wire(parts, through: FramedResponseEncoder())
                == Self.wire(parts, through: HTTPResponseEncoder(configuration: nio)))
    }

    @Test("a request with a chunked body: NIO's bytes")
    func requests() throws {
        var nio = HTTPRequestEncoder.Configuration()
        nio.automaticallySetFramingHeaders = false
        let parts: [HTTPClientRequestPart] = [
            .head(
                HTTPRequestHead(version: .http1_1, method: .POST, uri: "/u", headers: ["Transfer-Encoding": "chunked"])),
            .body(.byteBuffer(ByteBuffer(string: "part"))),
            .end(nil),
            .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/next", headers: ["Host": "h"])),
            .end(nil),
        ]
        #expect(
            try Self.wire(parts, through: FramedRequestEncoder())
                == Self.wire(parts, through: HTTPRequestEncoder(configuration: nio)))
    }

    @Test("write promises complete in the order of the writes, one per part")
    func promiseOrder() throws {
        let channel = EmbeddedChannel(handler: FramedResponseEncoder())
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        var completed: [String] = []
        func write(_ part: HTTPServerResponsePart, _ name: String) {
            let promise = channel.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenSuccess { completed.append(name) }
            channel.write(part, promise: promise)
        }
        write(
            .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Transfer-Encoding": "chunked"])), "head")
        write(.body(.byteBuffer(ByteBuffer(string: "small"))), "small")
        write(.body(.byteBuffer(ByteBuffer(repeating: 0x61, count: 10_000))), "large")
        write(.body(.byteBuffer(ByteBuffer())), "empty")
        write(.end(nil), "end")
        write(.head(HTTPResponseHead(version: .http1_0, status: .ok)), "second head")
        write(.end(nil), "unchunked end")
        #expect(completed.isEmpty)
        channel.flush()
        #expect(completed == ["head", "small", "large", "empty", "end", "second head", "unchunked end"])
    }

    /// The bytes `encoder` writes for `parts`, concatenated.
    static func wire<Part>(_ parts: [Part], through encoder: any ChannelHandler) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: encoder)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        for part in parts {
            try channel.writeOutbound(part)
        }
        var wire: [UInt8] = []
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) {
            wire += chunk.readableBytesView
        }
        return wire
    }
}
