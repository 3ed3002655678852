import NIOCore
import NIOHTTP1
import NIOPosix

@testable import SSERelayCore

/// An SSE stream as a test client reads it: the response head, then events one at a time,
/// parsed with the relay's own (separately tested) parser.
final class SSETestStream {
    let head: HTTPResponseHead
    private let connection: HTTPTestConnection
    private var parser = EventStreamParser()
    private var pending: [ServerSentEvent] = []
    private(set) var comments: [String] = []
    private(set) var isEnded = false

    private init(head: HTTPResponseHead, connection: HTTPTestConnection) {
        self.head = head
        self.connection = connection
    }

    /// Opens `path` on `address` with `headers`, runs `body` with the stream, then closes it.
    static func open<Result: Sendable>(
        _ address: SocketAddress,
        _ path: String,
        headers: [(String, String)] = [],
        _ body: (SSETestStream) async throws -> Result
    ) async throws -> Result {
        try await HTTPTestConnection.withConnection(to: address) { connection in
            try await connection.send(.GET, path, headers: [("Accept", "text/event-stream")] + headers)
            let head = try await connection.readHead()
            return try await body(SSETestStream(head: head, connection: connection))
        }
    }

    /// The next block with lines (events and id-only blocks alike), or `nil` at the end.
    func nextBlock() async throws -> ServerSentEvent? {
        // Bounded by the server: each pass consumes one body part or ends.
        while self.pending.isEmpty {
            guard try await self.readPart() else { return nil }
        }
        return self.pending.removeFirst()
    }

    /// Reads until a comment line arrives; returns it (`nil` at the end of the response).
    func nextComment() async throws -> String? {
        let seen = self.comments.count
        // Bounded by the server: each pass consumes one body part or ends.
        while self.comments.count == seen {
            guard try await self.readPart() else { return nil }
        }
        return self.comments[seen]
    }

    /// Reads and parses one body part; returns `false` at the end of the response.
    private func readPart() async throws -> Bool {
        guard !self.isEnded, let part = try await self.connection.nextBodyPart() else {
            self.isEnded = true
            return false
        }
        for output in try self.parser.feed(part) {
            switch output {
            case .event(let event): self.pending.append(event)
            case .comment(let line): self.comments.append(String(decoding: line, as: UTF8.self))
            }
        }
        return true
    }

    /// The next event with data, or `nil` at the end.
    func nextEvent() async throws -> ServerSentEvent? {
        while let block = try await self.nextBlock() {
            if block.data != nil { return block }
        }
        return nil
    }

    /// Every remaining block until the response ends.
    func readToEnd() async throws -> [ServerSentEvent] {
        var blocks: [ServerSentEvent] = []
        while let block = try await self.nextBlock() {
            blocks.append(block)
        }
        return blocks
    }
}

extension ServerSentEvent {
    /// The id the event sets (`id:` line), as a browser would keep it.
    var lastID: String? {
        self.lines.last { $0.field == "id" }.map { String(decoding: ServerSentEvent.value(of: $0.raw), as: UTF8.self) }
    }
}

extension SSETestStream {
    /// Reads events until one carries `data`; fails if the stream ends first.
    func readEvents(through data: String) async throws {
        // Bounded by the stream: it ends or sends the event.
        while let event = try await self.nextEvent() {
            if event.data == data { return }
        }
        throw FixtureError("the stream ended before \(data)")
    }
}

/// Opens one stream per entry of `headers` on `path`, all at once, and runs `body` with them.
func withStreams<Result: Sendable>(
    _ address: SocketAddress,
    _ path: String,
    _ headers: [[(String, String)]],
    _ body: ([SSETestStream]) async throws -> Result
) async throws -> Result {
    guard let first = headers.first else { return try await body([]) }
    return try await SSETestStream.open(address, path, headers: first) { stream in
        try await withStreams(address, path, Array(headers.dropFirst())) { others in
            try await body([stream] + others)
        }
    }
}
