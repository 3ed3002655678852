import NIOCore
import NIOHTTP1
import NIOPosix

/// A complete response as a test client received it.
struct TestResponse {
    var head: HTTPResponseHead
    var body: ByteBuffer

    var status: HTTPResponseStatus { self.head.status }
    var text: String { String(buffer: self.body) }
    func header(_ name: String) -> String? { self.head.headers.first(name: name) }
}

/// One HTTP/1.1 client connection for tests, on NIO's client codec, used inside
/// ``withConnection(to:_:)``.
final class HTTPTestConnection {
    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

    private init(
        inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    ) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Connects to `address`, runs `body` with the connection, then closes it.
    static func withConnection<Result: Sendable>(
        to address: SocketAddress,
        _ body: (HTTPTestConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(HTTPTestConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound))
        }
    }

    /// Sends a request and reads its response.
    func request(
        _ method: HTTPMethod,
        _ uri: String,
        version: HTTPVersion = .http1_1,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil,
        chunked: Bool = false
    ) async throws -> TestResponse {
        try await self.send(method, uri, version: version, headers: headers, body: body, chunked: chunked)
        return try await self.readResponse()
    }

    /// Sends a request without waiting for the response.
    func send(
        _ method: HTTPMethod,
        _ uri: String,
        version: HTTPVersion = .http1_1,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil,
        chunked: Bool = false
    ) async throws {
        var head = HTTPRequestHead(version: version, method: method, uri: uri)
        head.headers.add(name: "Host", value: "relay.test")
        for (name, value) in headers {
            head.headers.add(name: name, value: value)
        }
        if let body {
            if chunked {
                head.headers.add(name: "Transfer-Encoding", value: "chunked")
            } else {
                head.headers.add(name: "Content-Length", value: String(body.readableBytes))
            }
        }
        guard var body else {
            // The head and the end in one write: the server has the whole request with the head,
            // and may answer and close (`Connection: close`) before a separate write of the end
            // ran, which would then fail with "I/O on closed channel".
            try await self.outbound.write(contentsOf: [.head(head), .end(nil)])
            return
        }
        try await self.outbound.write(.head(head))
        // In pieces, as a real upload arrives.
        while let piece = body.readSlice(length: min(body.readableBytes, 256 * 1024)), piece.readableBytes > 0 {
            try await self.outbound.write(.body(.byteBuffer(piece)))
        }
        try await self.outbound.write(.end(nil))
    }

    /// Reads one complete response; throws if the connection ends first.
    func readResponse() async throws -> TestResponse {
        var head: HTTPResponseHead?
        var body = ByteBuffer()
        while let part = try await self.inbound.next() {
            switch part {
            case .head(let received):
                head = received
            case .body(var piece):
                body.writeBuffer(&piece)
            case .end:
                guard let head else { throw FixtureError("response ended without a head") }
                return TestResponse(head: head, body: body)
            }
        }
        throw FixtureError(
            "connection closed before the response was complete (head: \(head.map { "\($0.status)" } ?? "none"), \(body.readableBytes) body bytes)"
        )
    }

    /// Reads the next response head (for streaming responses read part by part).
    func readHead() async throws -> HTTPResponseHead {
        guard case .head(let head) = try await self.inbound.next() else {
            throw FixtureError("expected a response head")
        }
        return head
    }

    /// The next body part, or `nil` at the end of the response.
    func nextBodyPart() async throws -> ByteBuffer? {
        switch try await self.inbound.next() {
        case .body(let body):
            return body
        case .end:
            return nil
        case .head, nil:
            throw FixtureError("connection closed or a new head inside a response body")
        }
    }

    /// Whether the server closed the connection (the next read finds the end of the stream).
    func isClosedByServer() async throws -> Bool {
        try await self.inbound.next() == nil
    }
}

/// One request on a fresh connection.
func fetch(
    _ address: SocketAddress,
    _ method: HTTPMethod,
    _ uri: String,
    headers: [(String, String)] = [],
    body: ByteBuffer? = nil,
    chunked: Bool = false
) async throws -> TestResponse {
    try await HTTPTestConnection.withConnection(to: address) { connection in
        try await connection.request(method, uri, headers: headers, body: body, chunked: chunked)
    }
}
