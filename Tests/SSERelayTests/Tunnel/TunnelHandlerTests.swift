import NIOCore
import NIOEmbedded
import Testing

@testable import SSERelay

/// ``TunnelHandler`` pairs on two `EmbeddedChannel`s that share one event loop, as the client
/// and upstream channels of a real tunnel do.
@Suite("TunnelHandler")
struct TunnelHandlerTests {
    /// Counts the `read()` calls that get past the tunnel end towards the socket.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any

        private(set) var reads = 0

        func read(context: ChannelHandlerContext) {
            self.reads += 1
            context.read()
        }
    }

    /// One side of the tunnel: its channel and what its tunnel end lets through as reads.
    struct Side {
        let channel: EmbeddedChannel
        let readCounter: ReadCounter
    }

    /// Two connected channels joined by a tunnel, built the way ``ProxyHandler`` does: the
    /// ends are added to channels that are already active.
    struct Tunnel {
        let loop: EmbeddedEventLoop
        let a: Side
        let b: Side

        init() throws {
            self.loop = EmbeddedEventLoop()
            let (endA, endB) = TunnelHandler.makePair()
            self.a = try Self.makeSide(loop: self.loop, end: endA, port: 1)
            self.b = try Self.makeSide(loop: self.loop, end: endB, port: 2)
        }

        private static func makeSide(loop: EmbeddedEventLoop, end: TunnelHandler, port: Int) throws -> Side {
            let channel = EmbeddedChannel(loop: loop)
            channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port), promise: nil)
            #expect(channel.isActive)
            let counter = ReadCounter()
            try channel.pipeline.syncOperations.addHandler(counter)
            try channel.pipeline.syncOperations.addHandler(end)
            return Side(channel: channel, readCounter: counter)
        }

        /// Closes both channels. An `EmbeddedChannel` left open keeps its pipeline, its handlers
        /// and its loop alive in a reference cycle, which `swift test --sanitize=address` reports
        /// as leaked; every test ends with this, whether or not it closed a side itself.
        func finish() {
            _ = try? self.a.channel.finish(acceptAlreadyClosed: true)
            _ = try? self.b.channel.finish(acceptAlreadyClosed: true)
        }

        /// Which side is the sender and which the receiver, for tests run in both directions.
        func sides(_ direction: Direction) -> (from: Side, to: Side) {
            switch direction {
            case .aToB: (self.a, self.b)
            case .bToA: (self.b, self.a)
            }
        }
    }

    enum Direction: String, CaseIterable, Sendable {
        case aToB, bToA
    }

    private static func buffer(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }

    /// Fires one `channelRead` of `text` on `side`, without the `channelReadComplete` that
    /// `EmbeddedChannel.writeInbound` adds, so a test can look between the two.
    private static func receive(_ text: String, on side: Side) {
        side.channel.pipeline.syncOperations.fireChannelRead(NIOAny(Self.buffer(text)))
    }

    private static func completeRead(on side: Side) {
        side.channel.pipeline.syncOperations.fireChannelReadComplete()
    }

    /// Everything flushed out of `channel`, as text, with empty buffers counted separately.
    private static func drainOutbound(_ channel: EmbeddedChannel) throws -> (text: String, emptyBuffers: Int) {
        var text = ""
        var emptyBuffers = 0
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            if buffer.readableBytes == 0 {
                emptyBuffers += 1
            } else {
                text += String(buffer: buffer)
            }
        }
        return (text, emptyBuffers)
    }

    @Test("bytes read on one side are written to the other after channelReadComplete", arguments: Direction.allCases)
    func bytesCrossAfterReadComplete(direction: Direction) throws {
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        let (from, to) = tunnel.sides(direction)

        Self.receive("hello ", on: from)
        Self.receive("world", on: from)
        // Written but not yet flushed: the flush waits for the end of the read burst.
        #expect(try to.channel.readOutbound(as: ByteBuffer.self) == nil)

        Self.completeRead(on: from)
        #expect(try to.channel.readOutbound(as: ByteBuffer.self) == Self.buffer("hello "))
        #expect(try to.channel.readOutbound(as: ByteBuffer.self) == Self.buffer("world"))
        #expect(try to.channel.readOutbound(as: ByteBuffer.self) == nil)

        // Nothing echoes back to the sender, and nothing reaches the sender's inbound tail.
        #expect(try from.channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(try from.channel.readInbound(as: ByteBuffer.self) == nil)
    }

    @Test("a read burst with nothing in it flushes nothing")
    func emptyReadCompleteWritesNothing() throws {
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        Self.completeRead(on: tunnel.a)
        #expect(try tunnel.b.channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(tunnel.b.channel.isActive)
    }

    @Test("order is kept across many writes and read bursts in both directions")
    func orderIsKept() throws {
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        var expectedAtB = ""
        var expectedAtA = ""
        for burst in 0..<20 {
            for part in 0..<(burst % 5 + 1) {
                let toB = "a\(burst).\(part);"
                let toA = "b\(burst).\(part);"
                expectedAtB += toB
                expectedAtA += toA
                Self.receive(toB, on: tunnel.a)
                Self.receive(toA, on: tunnel.b)
            }
            Self.completeRead(on: tunnel.a)
            Self.completeRead(on: tunnel.b)
        }
        let atB = try Self.drainOutbound(tunnel.b.channel)
        let atA = try Self.drainOutbound(tunnel.a.channel)
        #expect(atB.text == expectedAtB)
        #expect(atA.text == expectedAtA)
        #expect(atB.emptyBuffers == 0)
        #expect(atA.emptyBuffers == 0)
    }

    @Test("reads pass through the tunnel end while the partner is writable", arguments: Direction.allCases)
    func readsPassWhilePartnerWritable(direction: Direction) throws {
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        let (from, _) = tunnel.sides(direction)
        Self.receive("x", on: from)
        Self.completeRead(on: from)
        let before = from.readCounter.reads
        from.channel.read()
        from.channel.read()
        #expect(from.readCounter.reads == before + 2)
    }

    @Test("an unwritable partner holds back reads until it becomes writable", arguments: Direction.allCases)
    func unwritablePartnerHoldsReads(direction: Direction) throws {
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        let (from, to) = tunnel.sides(direction)

        to.channel.isWritable = false
        to.channel.pipeline.fireChannelWritabilityChanged()
        Self.receive("fills the peer", on: from)
        Self.completeRead(on: from)
        let before = from.readCounter.reads
        // The bytes still go out; only further reads are held back.
        #expect(try to.channel.readOutbound(as: ByteBuffer.self) == Self.buffer("fills the peer"))

        from.channel.read()
        from.channel.read()
        #expect(from.readCounter.reads == before, "a read reached the socket while the peer was full")

        // A writability change that leaves the peer unwritable releases nothing.
        to.channel.pipeline.fireChannelWritabilityChanged()
        #expect(from.readCounter.reads == before)

        to.channel.isWritable = true
        to.channel.pipeline.fireChannelWritabilityChanged()
        #expect(from.readCounter.reads == before + 1, "the held reads are released as exactly one")

        // Reading is no longer gated.
        from.channel.read()
        #expect(from.readCounter.reads == before + 2)
    }

    @Test("the other direction keeps reading while one direction is held back")
    func holdBackIsPerDirection() throws {
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        tunnel.b.channel.isWritable = false
        Self.receive("to b", on: tunnel.a)
        Self.completeRead(on: tunnel.a)
        let aBefore = tunnel.a.readCounter.reads
        let bBefore = tunnel.b.readCounter.reads

        tunnel.a.channel.read()
        tunnel.b.channel.read()
        #expect(tunnel.a.readCounter.reads == aBefore)
        #expect(tunnel.b.readCounter.reads == bBefore + 1)

        // B still sends to A, which is writable.
        Self.receive("to a", on: tunnel.b)
        Self.completeRead(on: tunnel.b)
        #expect(try tunnel.a.channel.readOutbound(as: ByteBuffer.self) == Self.buffer("to a"))
    }

    @Test("becoming writable without a held read issues no read")
    func writableWithoutHeldRead() throws {
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        tunnel.b.channel.isWritable = false
        Self.receive("x", on: tunnel.a)
        Self.completeRead(on: tunnel.a)
        let before = tunnel.a.readCounter.reads
        tunnel.b.channel.isWritable = true
        tunnel.b.channel.pipeline.fireChannelWritabilityChanged()
        #expect(tunnel.a.readCounter.reads == before)
    }

    @Test("closing one side flushes what was written to the other and closes it", arguments: Direction.allCases)
    func closeFlushesThenClosesPartner(direction: Direction) throws {
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        let (from, to) = tunnel.sides(direction)
        var partnerCloseFutureCompleted = false
        to.channel.closeFuture.assumeIsolated().whenComplete { _ in partnerCloseFutureCompleted = true }

        Self.receive("flushed ", on: from)
        Self.completeRead(on: from)
        // Read but not yet flushed when the connection goes away.
        Self.receive("last words", on: from)
        #expect(to.channel.isActive)

        try from.channel.close().wait()
        tunnel.loop.run()

        #expect(!from.channel.isActive)
        #expect(!to.channel.isActive)
        #expect(partnerCloseFutureCompleted)
        let received = try Self.drainOutbound(to.channel)
        #expect(received.text == "flushed last words")
        #expect(received.emptyBuffers <= 1, "only the close marker may be empty")
        // The closed side was not written to by the partner's close.
        #expect(try Self.drainOutbound(from.channel).text.isEmpty)
    }

    @Test("an error on one side closes both")
    func errorClosesBoth() throws {
        struct Boom: Error {}
        let tunnel = try Tunnel()
        defer { tunnel.finish() }
        tunnel.a.channel.pipeline.fireErrorCaught(Boom())
        tunnel.loop.run()
        #expect(!tunnel.a.channel.isActive)
        #expect(!tunnel.b.channel.isActive)
    }

    @Test("an end added to a channel that is already closed closes its partner")
    func endAddedToInactiveChannelClosesPartner() throws {
        let loop = EmbeddedEventLoop()
        let (endA, endB) = TunnelHandler.makePair()
        let b = EmbeddedChannel(loop: loop)
        defer { _ = try? b.finish(acceptAlreadyClosed: true) }
        b.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 2), promise: nil)
        try b.pipeline.syncOperations.addHandler(endB)
        #expect(b.isActive)

        let a = EmbeddedChannel(loop: loop)
        defer { _ = try? a.finish(acceptAlreadyClosed: true) }
        #expect(!a.isActive)
        try a.pipeline.syncOperations.addHandler(endA)
        loop.run()
        #expect(!b.isActive)
    }

    /// ``ProxyHandler`` adds the client end first. If the client went away between the `101`
    /// and the rebuild, its end is added to an inactive channel while the upstream end has no
    /// context yet; the upstream end must still close its channel once it is added.
    @Test("an end added to a closed channel before its partner is added still closes the partner")
    func endAddedToInactiveChannelBeforePartner() throws {
        let loop = EmbeddedEventLoop()
        let (endA, endB) = TunnelHandler.makePair()
        let a = EmbeddedChannel(loop: loop)
        defer { _ = try? a.finish(acceptAlreadyClosed: true) }
        #expect(!a.isActive)
        try a.pipeline.syncOperations.addHandler(endA)

        let b = EmbeddedChannel(loop: loop)
        defer { _ = try? b.finish(acceptAlreadyClosed: true) }
        b.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 2), promise: nil)
        try b.pipeline.syncOperations.addHandler(endB)
        loop.run()
        #expect(!b.isActive, "the partner's channel was left open")
    }
}
