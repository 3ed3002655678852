import NIOCore
import NIOPosix

/// A TCP connection for tests that speaks bytes, not HTTP: malformed requests, upgrades,
/// pipelining, timeouts.
final class RawTestConnection {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// Bytes received and not yet consumed by a `read` call.
    private(set) var received = ByteBuffer()

    private init(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Connects to `address`, runs `body`, then closes. `receiveBufferSize` shrinks the
    /// socket's receive buffer, for a client that should fill up quickly when it stops reading.
    static func withConnection<Result: Sendable>(
        to address: SocketAddress,
        receiveBufferSize: Int? = nil,
        _ body: (RawTestConnection) async throws -> Result
    ) async throws -> Result {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let receiveBufferSize {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferSize))
        }
        let channel =
            try await bootstrap
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawTestConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound))
        }
    }

    func write(_ text: String) async throws {
        try await self.outbound.write(ByteBuffer(string: text))
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
            guard var chunk = try await self.inbound.next() else {
                throw FixtureError(
                    "closed before \(marker.debugDescription); got \(String(buffer: self.received).debugDescription)")
            }
            self.received.writeBuffer(&chunk)
        }
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

    /// Reads until the server closes the connection; returns everything received.
    func readToEnd() async throws -> String {
        while var chunk = try await self.inbound.next() {
            self.received.writeBuffer(&chunk)
        }
        return self.received.readString(length: self.received.readableBytes) ?? ""
    }
}
