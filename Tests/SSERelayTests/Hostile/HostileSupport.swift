import Foundation
import NIOCore
import NIOPosix

@testable import SSERelay

/// A raw TCP client for hostile tests: sends arbitrary bytes (NUL, bare CR, invalid UTF-8),
/// and can vanish with a reset (`SO_LINGER` 0) instead of a clean close.
final class HostileConnection {
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

    /// Connects to `address` (optionally with a small receive buffer), runs `body`, then closes.
    static func withConnection<Result: Sendable>(
        to address: SocketAddress,
        receiveBufferSize: Int? = nil,
        _ body: (HostileConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await Self.connect(to: address, receiveBufferSize: receiveBufferSize)
        return try await channel.executeThenClose { inbound, outbound in
            try await body(
                HostileConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: channel.channel))
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

    /// Vanishes: `SO_LINGER` 0, then close, so the peer gets a reset (RST) rather than a FIN.
    func reset() async throws {
        guard let provider = self.channel as? any SocketOptionProvider else {
            throw FixtureError("the channel offers no socket options")
        }
        try await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        try await self.channel.close()
    }
}

/// Reads the relay's own metrics page.
struct RelayMetricsProbe {
    let relay: RelayUnderTest

    func value(_ name: String, _ labels: [String: String] = [:]) throws -> Double? {
        let exposition = String(decoding: self.relay.server.metricsExposition(), as: UTF8.self)
        return try PrometheusExposition(parsing: exposition).value(name, labels)
    }

    /// Polls until the metric equals `expected` (a missing sample counts as 0); bounded.
    func wait(
        _ name: String, _ labels: [String: String] = [:], toBe expected: Double, within seconds: Double = 10
    ) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var last: Double = -1
        while ContinuousClock.now < deadline {
            last = try self.value(name, labels) ?? 0
            if last == expected { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw FixtureError("\(name)\(labels) stayed \(last), expected \(expected)")
    }

    /// Stream clients and client connections back to zero: nothing leaked.
    func waitForNoClients() async throws {
        try await self.wait("sse_relay_stream_clients", toBe: 0)
        try await self.wait("sse_relay_client_connections", toBe: 0)
    }
}

/// Waits until `condition` holds, polling every 10 ms for at most `seconds`.
func waitUntil(
    _ what: String, within seconds: Double = 10, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw FixtureError("timed out waiting until \(what)")
}

/// What the fixture's `/echo` saw.
struct EchoSeen: Decodable {
    var method: String
    var url: String
    var headers: [String: String]
    var rawHeaders: [String]
    var bodyBytes: Int
    var bodySha256: String

    /// Decodes the JSON body of a raw HTTP/1.1 response (head, then a Content-Length body).
    init(rawResponse: String) throws {
        guard let start = rawResponse.range(of: "\r\n\r\n") else {
            throw FixtureError("no response head in \(rawResponse.prefix(200).debugDescription)")
        }
        self = try JSONDecoder().decode(EchoSeen.self, from: Data(rawResponse[start.upperBound...].utf8))
    }
}
