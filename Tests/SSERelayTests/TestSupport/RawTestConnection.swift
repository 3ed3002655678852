import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection for tests that speaks bytes, not HTTP: malformed and hostile requests
/// (NUL, bare CR, invalid UTF-8), upgrades, pipelining, timeouts; it can vanish with a reset
/// (`SO_LINGER` 0) instead of a clean close.
final class RawTestConnection {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let channel: any Channel
    /// Bytes received and not yet consumed by a `read` call.
    private(set) var received = ByteBuffer()
    private(set) var receivedTotal = 0

    private init(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        channel: any Channel
    ) {
        self.inbound = inbound
        self.outbound = outbound
        self.channel = channel
    }

    /// Connects to `address`, runs `body`, then closes. `receiveBufferSize` shrinks the
    /// socket's receive buffer, for a client that should fill up quickly when it stops reading.
    static func withConnection<Result: Sendable>(
        to address: SocketAddress,
        receiveBufferSize: Int? = nil,
        _ body: (RawTestConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await Self.connect(to: address, receiveBufferSize: receiveBufferSize)
        return try await channel.executeThenClose { inbound, outbound in
            try await body(
                RawTestConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: channel.channel))
        }
    }

    static func connect(
        to address: SocketAddress, receiveBufferSize: Int? = nil
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let receiveBufferSize {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferSize))
        }
        return
            try await bootstrap
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    func write(_ text: String) async throws {
        try await self.outbound.write(ByteBuffer(string: text))
    }

    func write(bytes: [UInt8]) async throws {
        try await self.outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Reads until `marker` has arrived; returns everything up to and including it.
    func read(until marker: String) async throws -> String {
        let markerBytes = Array(marker.utf8)
        // Bounded by the server: each pass consumes one read, and the stream ends on close.
        while true {
            let view = self.received.readableBytesView
            if let range = view.firstRange(of: markerBytes) {
                let length = range.upperBound - view.startIndex
                return self.received.readString(length: length) ?? ""
            }
            guard try await self.readChunk() else {
                throw FixtureError(
                    "closed before \(marker.debugDescription); got \(String(buffer: self.received).prefix(300).debugDescription)"
                )
            }
        }
    }

    /// Reads until at least `count` bytes arrived since the connection opened.
    func read(atLeast count: Int) async throws {
        while self.receivedTotal < count {
            guard try await self.readChunk() else {
                throw FixtureError("closed after \(self.receivedTotal) of \(count) bytes")
            }
        }
    }

    /// Reads one response framed by `Content-Length` (head and body).
    func readResponse() async throws -> String {
        let head = try await self.read(until: "\r\n\r\n")
        let length =
            head.split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        while self.received.readableBytes < length {
            guard try await self.readChunk() else { throw FixtureError("closed inside a response body") }
        }
        return head + (self.received.readString(length: length) ?? "")
    }

    /// Reads and discards until at least `count` bytes arrived in total; returns how many.
    /// The connection then reads nothing more unless asked, so the server sees backpressure.
    func discard(atLeast count: Int) async throws -> Int {
        var total = 0
        while total < count {
            guard let chunk = try await self.inbound.next() else {
                throw FixtureError("closed after \(total) of \(count) bytes")
            }
            total += chunk.readableBytes
        }
        return total
    }

    /// Reads until the server closes the connection (or resets it); returns everything not yet consumed.
    func readToEnd() async throws -> String {
        do {
            while try await self.readChunk() {}
        } catch let error as IOError where error.errnoCode == ECONNRESET {
            // A reset after the answer: what arrived before it still counts.
        }
        return self.received.readString(length: self.received.readableBytes) ?? ""
    }

    private func readChunk() async throws -> Bool {
        guard var chunk = try await self.inbound.next() else { return false }
        self.receivedTotal += chunk.readableBytes
        self.received.writeBuffer(&chunk)
        return true
    }

    /// Half-closes: a FIN, after which the connection can still read what the peer sends.
    func finishWriting() async throws {
        try await self.channel.close(mode: .output)
    }

    /// Vanishes: `SO_LINGER` 0, then close, so the peer gets a reset (RST) rather than a FIN.
    func reset() async throws {
        guard let provider = self.channel as? any SocketOptionProvider else {
            throw FixtureError("the channel offers no socket options")
        }
        try await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        try await self.channel.close()
    }
}
