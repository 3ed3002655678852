import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import SSERelay

/// ``OverloadResponder`` answers a connection over the limit with one `503`, half-closes, drops
/// what the client sends, and closes after ``OverloadResponder/lingerTime``.
@Suite("OverloadResponder")
struct OverloadResponderTests {
    /// Records close requests. `EmbeddedChannel` closes fully whatever the mode, so an output
    /// half-close is recorded and acknowledged here instead of being passed on: the channel
    /// stays open as a real socket would while the client is still sending.
    final class CloseRecorder: ChannelOutboundHandler {
        typealias OutboundIn = Any

        private(set) var modes: [CloseMode] = []

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            self.modes.append(mode)
            if mode == .output {
                promise?.succeed(())
            } else {
                context.close(mode: mode, promise: promise)
            }
        }
    }

    /// Sees every inbound event that gets past the responder.
    final class InboundRecorder: ChannelInboundHandler {
        typealias InboundIn = Any

        private(set) var activeCount = 0
        private(set) var readCount = 0

        func channelActive(context: ChannelHandlerContext) {
            self.activeCount += 1
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.readCount += 1
            context.fireChannelRead(data)
        }
    }

    struct Connection {
        let loop: EmbeddedEventLoop
        let channel: EmbeddedChannel
        let closes: CloseRecorder
        let inbound: InboundRecorder

        /// A channel with the responder, connected so `channelActive` has fired.
        init() throws {
            self.loop = EmbeddedEventLoop()
            self.closes = CloseRecorder()
            self.inbound = InboundRecorder()
            self.channel = EmbeddedChannel(
                handlers: [self.closes, OverloadResponder(), self.inbound],
                loop: self.loop
            )
            self.channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1), promise: nil)
        }

        /// Closes the channel and cancels the responder's scheduled close. An open
        /// `EmbeddedChannel` (and a loop holding a task that captures it) stays alive in a
        /// reference cycle, which `swift test --sanitize=address` reports as leaked.
        func finish() {
            _ = try? self.channel.finish(acceptAlreadyClosed: true)
        }
    }

    /// A response split into its parts, by hand rather than by NIO's parser, so that the exact
    /// bytes on the wire are what is checked.
    struct RawResponse {
        var statusLine: String
        var headerLines: [String]
        var body: String

        init(_ buffer: ByteBuffer) throws {
            let text = String(buffer: buffer)
            let parts = text.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)
            try #require(parts.count == 2, "no blank line after the head in \(text.debugDescription)")
            let lines = parts[0].split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
            self.statusLine = lines[0]
            self.headerLines = Array(lines.dropFirst())
            self.body = String(parts[1])
        }

        func values(_ name: String) -> [String] {
            self.headerLines.compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                guard line[..<colon].lowercased() == name.lowercased() else { return nil }
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
    }

    @Test("on connect it writes exactly one 503 that says the relay is at capacity")
    func writesOne503() throws {
        let connection = try Connection()
        defer { connection.finish() }
        let written = try #require(try connection.channel.readOutbound(as: ByteBuffer.self))
        #expect(try connection.channel.readOutbound(as: ByteBuffer.self) == nil, "more than one write")

        let response = try RawResponse(written)
        #expect(response.statusLine == "HTTP/1.1 503 Service Unavailable")
        #expect(response.values("Retry-After") == ["1"])
        #expect(response.values("Connection") == ["close"])
        #expect(response.values("Content-Type") == ["text/plain; charset=utf-8"])
        #expect(response.values("Content-Length") == [String(response.body.utf8.count)])
        #expect(response.headerLines.allSatisfy { !$0.isEmpty && $0.contains(": ") })

        // One line, ending in a newline, that names no limit (the log does).
        #expect(response.body == "the relay is at capacity, retry shortly\n")
    }

    @Test("after the response it closes its output only, and passes channelActive on")
    func halfClosesAfterWriting() throws {
        let connection = try Connection()
        defer { connection.finish() }
        #expect(try connection.channel.readOutbound(as: ByteBuffer.self) != nil)
        #expect(connection.closes.modes == [.output])
        #expect(connection.channel.isActive)
        #expect(connection.inbound.activeCount == 1)
    }

    @Test("what the client sends is discarded")
    func inboundIsDiscarded() throws {
        let connection = try Connection()
        defer { connection.finish() }
        _ = try connection.channel.readOutbound(as: ByteBuffer.self)

        try connection.channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        try connection.channel.writeInbound(ByteBuffer(string: "POST /more HTTP/1.1\r\n"))
        #expect(connection.inbound.readCount == 0)
        #expect(try connection.channel.readInbound(as: ByteBuffer.self) == nil)
        // Nothing more is written in answer.
        #expect(try connection.channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(connection.channel.isActive)
    }

    @Test("it closes the connection once the linger time has passed")
    func closesAfterLinger() throws {
        let connection = try Connection()
        defer { connection.finish() }
        #expect(connection.channel.isActive)

        connection.loop.advanceTime(by: OverloadResponder.lingerTime - .nanoseconds(1))
        #expect(connection.channel.isActive, "closed before the linger time")
        #expect(connection.closes.modes == [.output])

        connection.loop.advanceTime(by: .nanoseconds(1))
        #expect(!connection.channel.isActive, "still open after the linger time")
        #expect(connection.closes.modes == [.output, .all])
    }

    @Test("the linger time is short but leaves the client time to read")
    func lingerTimeIsBounded() {
        #expect(OverloadResponder.lingerTime > .zero)
        #expect(OverloadResponder.lingerTime <= .seconds(10))
    }

    @Test("an error closes the connection at once")
    func errorCloses() throws {
        struct Boom: Error {}
        let connection = try Connection()
        defer { connection.finish() }
        connection.channel.pipeline.fireErrorCaught(Boom())
        #expect(!connection.channel.isActive)
        #expect(connection.closes.modes.last == .all)
    }
}
