import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import SSERelayCore

/// The relay's message encoding (a head's `encoded(allocator:)`, then `MessageBodyEncoder`)
/// against NIO's encoders without automatic framing, as the relay used them: the same messages
/// must give the same bytes on the wire, however the writes are cut.
@Suite("HTTP/1 message encoding")
struct MessageEncodingTests {
    /// A message as a sequence of parts: a head, body parts, and maybe an end.
    struct Message<Head: EncodedByBoth> {
        var head: Head
        var bodySizes: [Int] = []
        var ends = true
        var trailers: HTTPHeaders?
    }

    @Test("every response status, HTTP/1.0 and 1.1, is written as NIO writes it")
    func everyStatus() throws {
        for code in 100...599 {
            for version in [HTTPVersion.http1_0, .http1_1] {
                let head = HTTPResponseHead(
                    version: version, status: HTTPResponseStatus(statusCode: code),
                    headers: ["Content-Length": "0"])
                try Self.expectSameWire(Message(head: head))
            }
        }
    }

    @Test("custom reason phrases and versions beyond 1.1 are written as NIO writes them")
    func unusualStartLines() throws {
        let statuses: [HTTPResponseStatus] = [
            .custom(code: 299, reasonPhrase: "Fine Thing"), .custom(code: 200, reasonPhrase: ""),
            .custom(code: 999, reasonPhrase: "é ünïcode"),
        ]
        for status in statuses {
            for version in [HTTPVersion.http1_1, .http2, HTTPVersion(major: 12, minor: 34)] {
                let head = HTTPResponseHead(version: version, status: status, headers: ["A": "b"])
                try Self.expectSameWire(Message(head: head, bodySizes: [3]))
            }
        }
        let methods: [HTTPMethod] = [
            .GET, .HEAD, .POST, .CONNECT, .OPTIONS, .RAW(value: "PURGE"), .RAW(value: "M-SEARCH"),
        ]
        for method in methods {
            for version in [HTTPVersion.http1_0, .http1_1] {
                let head = HTTPRequestHead(
                    version: version, method: method, uri: "/a/b?c=d&e=%20", headers: ["Host": "x"])
                try Self.expectSameWire(Message(head: head))
            }
        }
    }

    @Test("chunked bodies, small and large parts, with and without trailers")
    func chunkedBodies() throws {
        let sizes = [0, 1, 15, 16, 255, 4095, 4096, 4097, 70_000]
        for trailers in [nil, ["X-Checksum": "abc", "X-Other": "ü"] as HTTPHeaders] {
            let response = HTTPResponseHead(
                version: .http1_1, status: .ok, headers: ["Transfer-Encoding": "chunked", "Content-Type": "text/plain"])
            try Self.expectSameWire(
                Message(head: response, bodySizes: sizes, trailers: trailers))
            let request = HTTPRequestHead(
                version: .http1_1, method: .POST, uri: "/upload", headers: ["transfer-encoding": "chunked"])
            try Self.expectSameWire(
                Message(head: request, bodySizes: sizes, trailers: trailers))
        }
    }

    @Test("a body is chunked only on HTTP/1.1 with chunked as the first Transfer-Encoding field")
    func chunkingDecision() throws {
        let cases: [(HTTPVersion, HTTPHeaders)] = [
            (.http1_0, ["Transfer-Encoding": "chunked"]),
            (.http1_1, ["Transfer-Encoding": "gzip"]),
            (.http1_1, ["Transfer-Encoding": "gzip", "Transfer-Encoding": "chunked"]),
            (.http1_1, ["TRANSFER-ENCODING": "chunked"]),
            (.http1_1, ["Transfer-Encoding": "Chunked"]),
            (.http1_1, ["Content-Length": "20"]),
            (.http2, ["Transfer-Encoding": "chunked"]),
        ]
        for (version, headers) in cases {
            let head = HTTPResponseHead(version: version, status: .ok, headers: headers)
            try Self.expectSameWire(
                Message(head: head, bodySizes: [20], trailers: ["T": "v"]))
        }
    }

    @Test("a message cut before its end, then the next one on the same connection")
    func keepAliveSequence() throws {
        let first = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Transfer-Encoding": "chunked"])
        let second = HTTPResponseHead(version: .http1_1, status: .notFound, headers: ["Content-Length": "5"])
        try Self.expectSameWire(
            [Message(head: first, bodySizes: [10, 20]), Message(head: second, bodySizes: [5])])
        try Self.expectSameWire(
            [Message(head: first, bodySizes: [10], ends: false)])
    }

    @Test("random heads and bodies (property, 400 seeded messages of each kind)")
    func randomMessages() throws {
        var random = SplitMix64(seed: 0x5EED_0E0C_0DE5)
        for _ in 0..<400 {
            let headers = Self.randomHeaders(using: &random)
            let sizes = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                [0, 1, 9, 100, 4096, 5000].randomElement(using: &random) ?? 0
            }
            let version = [HTTPVersion.http1_0, .http1_1].randomElement(using: &random) ?? .http1_1
            let trailers: HTTPHeaders? = Bool.random(using: &random) ? Self.randomHeaders(using: &random) : nil
            let response = HTTPResponseHead(
                version: version, status: HTTPResponseStatus(statusCode: Int.random(in: 100...599, using: &random)),
                headers: headers)
            try Self.expectSameWire(
                Message(head: response, bodySizes: sizes, trailers: trailers))
            let path = String(repeating: "/seg", count: Int.random(in: 0...300, using: &random))
            let request = HTTPRequestHead(
                version: version, method: [.GET, .POST, .PUT, .RAW(value: "X")].randomElement(using: &random) ?? .GET,
                uri: path.isEmpty ? "/" : path, headers: headers)
            try Self.expectSameWire(
                Message(head: request, bodySizes: sizes, trailers: trailers))
        }
    }

    @Test("a head is one buffer, allocated once for its size")
    func exactSize() throws {
        let head = HTTPRequestHead(
            version: .http1_1, method: .GET, uri: "/x",
            headers: ["Host": "h", "Long": String(repeating: "v", count: 900)])
        let bytes = head.encoded(allocator: ByteBufferAllocator())
        #expect(bytes.readableBytes == "GET /x HTTP/1.1\r\nHost: h\r\nLong: \r\n\r\n".utf8.count + 900)
        // The allocator rounds the capacity up; one allocation holds the whole head.
        #expect(bytes.capacity < 2 * bytes.readableBytes)
    }

    // MARK: Helpers

    static func randomHeaders(using random: inout SplitMix64) -> HTTPHeaders {
        let names = ["Host", "Content-Type", "X-Forwarded-For", "Via", "Cookie", "transfer-encoding", "A"]
        let values = [
            "", "v", "chunked", "text/event-stream; charset=utf-8", "é€😀", String(repeating: "c", count: 700),
        ]
        var headers = HTTPHeaders()
        for _ in 0..<Int.random(in: 0...12, using: &random) {
            headers.add(
                name: names.randomElement(using: &random) ?? "A", value: values.randomElement(using: &random) ?? "")
        }
        return headers
    }

    static func expectSameWire<Head: EncodedByBoth>(
        _ message: Message<Head>, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try Self.expectSameWire([message], sourceLocation: sourceLocation)
    }

    static func expectSameWire<Head: EncodedByBoth>(
        _ messages: [Message<Head>], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let ours = Self.encoded(messages)
        let theirs = try Self.wire(messages, through: Head.nioEncoder())
        #expect(
            ours == theirs, "\(String(decoding: ours, as: UTF8.self).debugDescription)", sourceLocation: sourceLocation)
    }

    /// The bytes the relay's encoding gives for `messages`, concatenated, with a body encoder
    /// kept from one message to the next as on a connection.
    static func encoded<Head: EncodedByBoth>(_ messages: [Message<Head>]) -> [UInt8] {
        let allocator = ByteBufferAllocator()
        var wire: [UInt8] = []
        var body = MessageBodyEncoder()
        let append: MessageBodyEncoder.Write = { piece, _ in
            guard case .byteBuffer(let bytes) = piece else {
                Issue.record("the body encoder wrote a file region")
                return
            }
            wire += bytes.readableBytesView
        }
        for message in messages {
            wire += message.head.encoded(allocator: allocator).readableBytesView
            body.begin(version: message.head.version, headers: message.head.headers)
            for size in message.bodySizes {
                let part = IOData.byteBuffer(ByteBuffer(repeating: 0x62, count: size))
                body.body(part, promise: nil, allocator: allocator, write: append)
            }
            if message.ends {
                body.end(trailers: message.trailers, promise: nil, allocator: allocator, write: append)
            }
        }
        return wire
    }

    /// The bytes `encoder` writes for `messages`, concatenated.
    static func wire<Head: EncodedByBoth>(_ messages: [Message<Head>], through encoder: any ChannelHandler) throws
        -> [UInt8]
    {
        let channel = EmbeddedChannel(handler: encoder)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        for message in messages {
            try channel.writeOutbound(HTTPPart<Head, IOData>.head(message.head))
            for size in message.bodySizes {
                try channel.writeOutbound(
                    HTTPPart<Head, IOData>.body(.byteBuffer(ByteBuffer(repeating: 0x62, count: size))))
            }
            if message.ends {
                try channel.writeOutbound(HTTPPart<Head, IOData>.end(message.trailers))
            }
        }
        var wire: [UInt8] = []
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) {
            wire += chunk.readableBytesView
        }
        return wire
    }
}

/// A head the relay encodes, with NIO's encoder for it (without automatic framing).
protocol EncodedByBoth: HTTPEncodableHead {
    static func nioEncoder() -> any ChannelHandler
}

extension HTTPRequestHead: EncodedByBoth {
    static func nioEncoder() -> any ChannelHandler {
        var configuration = HTTPRequestEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        return HTTPRequestEncoder(configuration: configuration)
    }
}

extension HTTPResponseHead: EncodedByBoth {
    static func nioEncoder() -> any ChannelHandler {
        var configuration = HTTPResponseEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        return HTTPResponseEncoder(configuration: configuration)
    }
}
