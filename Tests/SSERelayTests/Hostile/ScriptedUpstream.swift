import NIOCore
import NIOPosix

/// A misbehaving upstream for fault injection, on NIO: listens on 127.0.0.1 with an OS-chosen
/// port and runs a script for every accepted connection, with the connection's raw bytes.
/// What each connection received and whether it saw the relay close it are recorded.
final class ScriptedUpstream: Sendable {
    typealias Script = @Sendable (_ connection: ScriptedUpstreamConnection, _ index: Int) async throws -> Void
    private typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    let port: Int
    let log: ScriptedUpstreamLog
    private let server: any Channel
    private let accepted: AsyncStream<Connection>.Continuation
    private let acceptLoop: Task<Void, Never>

    private init(
        port: Int, log: ScriptedUpstreamLog, server: any Channel, accepted: AsyncStream<Connection>.Continuation,
        acceptLoop: Task<Void, Never>
    ) {
        self.port = port
        self.log = log
        self.server = server
        self.accepted = accepted
        self.acceptLoop = acceptLoop
    }

    /// Starts listening; `script` runs once per connection (index 0, 1, … in accept order).
    ///
    /// Every accepted connection gets `executeThenClose`, however late it arrives: NIO traps
    /// on a `NIOAsyncChannel` dropped without it ("Deinited NIOAsyncWriter without calling
    /// finish()"). NIO's own async `bind` can drop one, when its accept stream ends (listener
    /// closed, or the loop cancelled) while a connection is being accepted (swift-nio issues
    /// 2637 and 3481), so connections come through a stream of this type's own instead: one
    /// that is never cancelled, and whose late arrivals are closed here.
    static func start(_ script: @escaping Script) async throws -> ScriptedUpstream {
        let (connections, accepted) = AsyncStream<Connection>.makeStream()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = try Connection(wrappingChannelSynchronously: channel)
                    if case .terminated = accepted.yield(connection) {
                        // Accepted after stop(): closed without a script.
                        Task { try? await connection.executeThenClose { _, _ in } }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let log = ScriptedUpstreamLog()
        let acceptLoop = Task {
            await withDiscardingTaskGroup { group in
                var index = 0
                // Ends when stop() finishes the stream, after every connection yielded before.
                for await connection in connections {
                    let connectionIndex = index
                    index += 1
                    group.addTask {
                        await Self.serve(connection, index: connectionIndex, log: log, script: script)
                    }
                }
                group.cancelAll()
            }
        }
        return ScriptedUpstream(
            port: server.localAddress?.port ?? 0, log: log, server: server, accepted: accepted, acceptLoop: acceptLoop)
    }

    private static func serve(
        _ child: NIOAsyncChannel<ByteBuffer, ByteBuffer>, index: Int, log: ScriptedUpstreamLog, script: Script
    ) async {
        await log.opened(index, channel: child.channel)
        do {
            try await child.executeThenClose { inbound, outbound in
                let connection = ScriptedUpstreamConnection(
                    index: index, inbound: inbound.makeAsyncIterator(), outbound: outbound, log: log)
                try await script(connection, index)
            }
        } catch {
            // A reset, a cancellation at the end of the test: the connection is gone either way.
        }
        await log.closed(index)
    }

    var url: String { "127.0.0.1:\(self.port)" }

    /// Stops listening and ends every connection.
    ///
    /// The accept loop is not cancelled: a cancelled loop would drop the connections yielded
    /// to it and not yet taken (see ``start(_:)``). ``ScriptedUpstreamLog/closeAll()`` closes
    /// the open connections and those that open after it, so every script ends; finishing the
    /// stream ends the loop once it has taken every connection accepted before.
    func stop() async {
        await self.log.closeAll()
        try? await self.server.close()
        self.accepted.finish()
        await self.acceptLoop.value
    }
}

/// What a ``ScriptedUpstream`` saw, per connection.
actor ScriptedUpstreamLog {
    private(set) var received: [Int: String] = [:]
    private(set) var openedCount = 0
    private(set) var closedByPeer: Set<Int> = []
    private(set) var finished: Set<Int> = []

    private var channels: [Int: any Channel] = [:]
    private var closing = false

    /// Records a connection as its script starts; closes it at once after ``closeAll()``.
    func opened(_ index: Int, channel: any Channel) {
        self.openedCount += 1
        self.channels[index] = channel
        if self.closing { channel.close(promise: nil) }
    }

    /// Closes every connection still open, and every one that opens from now on, so scripts
    /// blocked on a read end.
    func closeAll() {
        self.closing = true
        for channel in self.channels.values { channel.close(promise: nil) }
    }
    func closed(_ index: Int) { self.finished.insert(index) }
    func peerClosed(_ index: Int) { self.closedByPeer.insert(index) }
    func append(_ text: String, on index: Int) { self.received[index, default: ""] += text }

    /// Every request line received, over all connections, in connection order.
    var requestLines: [String] {
        self.received.keys.sorted().flatMap { index in
            (self.received[index] ?? "").split(separator: "\r\n", omittingEmptySubsequences: false)
                .filter { $0.hasSuffix(" HTTP/1.1") }.map(String.init)
        }
    }
}

/// One accepted connection of a ``ScriptedUpstream``, as its script sees it.
final class ScriptedUpstreamConnection {
    let index: Int
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let log: ScriptedUpstreamLog
    private var buffer = ByteBuffer()

    init(
        index: Int, inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, log: ScriptedUpstreamLog
    ) {
        self.index = index
        self.inbound = inbound
        self.outbound = outbound
        self.log = log
    }

    /// Reads one request (head and a `Content-Length` body); `nil` when the relay closed first.
    func readRequest() async throws -> String? {
        guard let head = try await self.read(until: "\r\n\r\n") else { return nil }
        let length =
            head.split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).drop { $0 == " " }) } ?? 0
        while self.buffer.readableBytes < length {
            guard try await self.readChunk() else { return nil }
        }
        return head + (self.buffer.readString(length: length) ?? "")
    }

    private func read(until marker: String) async throws -> String? {
        let markerBytes = Array(marker.utf8)
        // Bounded by the relay: each pass consumes one read, and the stream ends on close.
        while true {
            let view = self.buffer.readableBytesView
            if let range = view.firstRange(of: markerBytes) {
                return self.buffer.readString(length: range.upperBound - view.startIndex)
            }
            guard try await self.readChunk() else { return nil }
        }
    }

    private func readChunk() async throws -> Bool {
        guard var chunk = try await self.inbound.next() else {
            await self.log.peerClosed(self.index)
            return false
        }
        await self.log.append(String(buffer: chunk), on: self.index)
        self.buffer.writeBuffer(&chunk)
        return true
    }

    func write(_ text: String) async throws {
        try await self.outbound.write(ByteBuffer(string: text))
    }

    func write(_ buffer: ByteBuffer) async throws {
        try await self.outbound.write(buffer)
    }

    /// Reads and records everything until the relay closes the connection (or the test ends).
    func waitForPeerClose() async throws {
        while try await self.readChunk() {}
    }
}
