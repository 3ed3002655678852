import Logging
import NIOCore
import NIOEmbedded
import NIOExtras
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// ``ProxyHandler`` on `EmbeddedChannel`s: the client connection with its HTTP codec, and
/// each upstream connection a pool opens as another embedded channel on the same loop, so
/// a whole exchange runs byte for byte without a socket or a clock.
@Suite("ProxyHandler")
struct ProxyHandlerTests {
    /// One client connection through a relay whose upstream connections the test plays.
    final class Harness {
        let loop = EmbeddedEventLoop()
        let client: EmbeddedChannel
        /// Every upstream connection opened so far, in order.
        private(set) var upstreams: [EmbeddedChannel] = []
        /// The server of each of ``upstreams``: its index in `upstream.servers`.
        private(set) var upstreamServers: [Int] = []
        let registry: StreamRegistry
        let metrics: RelayMetrics
        /// The pools of the client's loop, one per server of `configuration.upstream.servers`;
        /// server `i`'s connections go to 127.0.0.1, port 8080 + `i`.
        let balancer: UpstreamBalancer
        /// Servers whose connects fail as if refused.
        var refusing: Set<Int> = []

        /// The pool of the first server.
        var pool: UpstreamConnectionPool { self.balancer.pools[0] }

        /// - Parameters:
        ///   - cluster: the relay's part in a cluster, for the cluster tests.
        ///   - isPeerListener: whether the client connection came in on the peer listener.
        init(
            configuration: RelayConfiguration = RelayConfiguration(), cluster: ClusterNode? = nil,
            isPeerListener: Bool = false
        ) throws {
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let metrics = RelayMetrics()
            self.metrics = metrics
            self.registry = StreamRegistry(limits: configuration.limits, metrics: metrics, logger: logger)
            self.client = EmbeddedChannel(loop: self.loop)
            var opened: (EmbeddedChannel, Int) -> Void = { _, _ in }
            var isRefusing: (Int) -> Bool = { _ in false }
            let streamBudget = UpstreamStreamBudget(limit: 4)
            let loop = self.loop
            let servers = configuration.upstream.servers
            let pools = try servers.enumerated().map { index, server in
                let address = try SocketAddress(ipAddress: "127.0.0.1", port: 8080 + index)
                let connector = UpstreamConnector { [loop] _ in
                    guard !isRefusing(index) else {
                        return loop.makeFailedFuture(IOError(errnoCode: ECONNREFUSED, reason: "connect"))
                    }
                    let channel = EmbeddedChannel(loop: loop)
                    do {
                        try UpstreamConnector.installHandlers(on: channel)
                        try channel.connect(to: address).wait()
                    } catch {
                        return loop.makeFailedFuture(error)
                    }
                    opened(channel, index)
                    return loop.makeSucceededFuture(channel)
                }
                let upstreamServer = UpstreamServer(
                    index: index, configuration: server,
                    addresses: UpstreamAddresses(host: "127.0.0.1", port: 8080 + index),
                    health: configuration.upstream.health, tracksHealth: servers.count > 1,
                    metrics: metrics.upstreamServer(server.url.description), logger: logger)
                return UpstreamConnectionPool(
                    eventLoop: loop, server: upstreamServer, connector: connector,
                    configuration: configuration.upstream, limit: 4, streamBudget: streamBudget)
            }
            self.balancer = UpstreamBalancer(pools: pools, streamBudget: streamBudget)
            let encoder = FramedResponseEncoder()
            let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
            let handler = ProxyHandler(
                settings: ProxySettingsStore(configuration), upstreams: self.balancer, registry: self.registry,
                cluster: cluster, isPeerListener: isPeerListener, logger: logger, codecHandlers: [encoder, decoder])
            try self.client.pipeline.syncOperations.addHandlers([encoder, decoder, handler])
            opened = { [unowned self] in
                self.upstreams.append($0)
                self.upstreamServers.append($1)
            }
            isRefusing = { [unowned self] in self.refusing.contains($0) }
            try self.client.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).wait()
        }

        /// The client sends `text`.
        func send(_ text: String) throws {
            try self.client.writeInbound(ByteBuffer(string: text))
        }

        /// What the relay wrote to the client since the last call.
        func received() throws -> String {
            try Self.drain(self.client)
        }

        /// What the relay wrote to upstream connection `index` since the last call.
        func upstreamReceived(_ index: Int = 0) throws -> String {
            guard index < self.upstreams.count else { return "" }
            return try Self.drain(self.upstreams[index])
        }

        /// Upstream connection `index` answers `text`.
        func upstreamSends(_ text: String, on index: Int = 0) throws {
            try self.upstreams[index].writeInbound(ByteBuffer(string: text))
        }

        /// Lets the loop run what is due after `amount`.
        func advance(by amount: TimeAmount) {
            self.loop.advanceTime(by: amount)
        }

        func finish() {
            for upstream in self.upstreams {
                _ = try? upstream.finish()
            }
            _ = try? self.client.finish()
            // `EmbeddedChannel.finish()` cancels every task scheduled on the loop, the retention
            // timers of the generations a stream test started among them; a generation and the
            // registry refer to each other until it is discarded, so what is left is discarded
            // here.
            for generation in self.registry.all {
                generation.discard()
            }
            try? self.loop.syncShutdownGracefully()
        }

        private static func drain(_ channel: EmbeddedChannel) throws -> String {
            var text = ""
            // Bounded by what the channel holds.
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                text += String(buffer: buffer)
            }
            return text
        }
    }

    private static let okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    @Test("keep-alive: two requests in turn share the client connection and one upstream connection")
    func keepAlive() throws {
        let relay = try Harness()
        defer { relay.finish() }
        for path in ["/one", "/two"] {
            try relay.send("GET \(path) HTTP/1.1\r\nHost: relay\r\n\r\n")
            #expect(try relay.upstreamReceived().hasPrefix("GET \(path) HTTP/1.1\r\n"))
            try relay.upstreamSends(Self.okResponse)
            let response = try relay.received()
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(response.hasSuffix("\r\n\r\nok"))
            #expect(!response.lowercased().contains("connection: close"))
        }
        #expect(relay.upstreams.count == 1, "the pooled connection was reused")
        #expect(relay.client.isActive)
    }

    @Test("the upstream's name moves: an idle connection to the old address is closed, the next request connects anew")
    func addressChangeRetiresIdleConnection() throws {
        let relay = try Harness()
        defer { relay.finish() }
        try relay.send("GET /one HTTP/1.1\r\nHost: relay\r\n\r\n")
        try relay.upstreamSends(Self.okResponse)
        #expect(try relay.received().hasSuffix("ok"))
        // Still the same address among others: the idle connection stays.
        relay.pool.addressesChanged(to: [
            try SocketAddress(ipAddress: "127.0.0.2", port: 8080),
            try SocketAddress(ipAddress: "127.0.0.1", port: 8080),
        ])
        #expect(relay.upstreams[0].isActive)
        relay.pool.addressesChanged(to: [try SocketAddress(ipAddress: "127.0.0.2", port: 8080)])
        #expect(!relay.upstreams[0].isActive)
        try relay.send("GET /two HTTP/1.1\r\nHost: relay\r\n\r\n")
        #expect(relay.upstreams.count == 2)
        #expect(try relay.upstreamReceived(1).hasPrefix("GET /two HTTP/1.1\r\n"))
    }

    @Test("the upstream's name moves mid-exchange: the exchange finishes on its connection, which is then closed")
    func addressChangeRetiresBusyConnection() throws {
        let relay = try Harness()
        defer { relay.finish() }
        try relay.send("GET /one HTTP/1.1\r\nHost: relay\r\n\r\n")
        relay.pool.addressesChanged(to: [try SocketAddress(ipAddress: "127.0.0.2", port: 8080)])
        #expect(relay.upstreams[0].isActive)
        try relay.upstreamSends(Self.okResponse)
        #expect(try relay.received().hasSuffix("ok"))
        #expect(!relay.upstreams[0].isActive)
        try relay.send("GET /two HTTP/1.1\r\nHost: relay\r\n\r\n")
        #expect(relay.upstreams.count == 2)
    }

    @Test("pipelining: the second request goes upstream only after the first response, answers in order")
    func pipelining() throws {
        let relay = try Harness()
        defer { relay.finish() }
        try relay.send("GET /one HTTP/1.1\r\nHost: relay\r\n\r\nGET /two HTTP/1.1\r\nHost: relay\r\n\r\n")
        let first = try relay.upstreamReceived()
        #expect(first.hasPrefix("GET /one "))
        #expect(!first.contains("/two"), "one request at a time")
        try relay.upstreamSends("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none")
        #expect(try relay.received().hasSuffix("one"))
        #expect(try relay.upstreamReceived().hasPrefix("GET /two "))
        try relay.upstreamSends("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo")
        #expect(try relay.received().hasSuffix("two"))
        #expect(relay.client.isActive)
    }

    @Test("Connection: close from the client: the response says so and the connection closes")
    func clientAsksClose() throws {
        let relay = try Harness()
        defer { relay.finish() }
        try relay.send("GET / HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n")
        _ = try relay.upstreamReceived()
        try relay.upstreamSends(Self.okResponse)
        #expect(try relay.received().contains("Connection: close\r\n"))
        relay.loop.run()
        #expect(!relay.client.isActive)
    }

    @Test("an Upgrade answered 101 becomes a byte tunnel both ways")
    func upgrade() throws {
        let relay = try Harness()
        defer { relay.finish() }
        try relay.send("GET /ws HTTP/1.1\r\nHost: relay\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        let request = try relay.upstreamReceived()
        #expect(request.contains("Upgrade: echo\r\n"))
        try relay.upstreamSends("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        relay.loop.run()
        #expect(try relay.received().hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        try relay.send("ping")
        relay.loop.run()
        #expect(try relay.upstreamReceived() == "ping")
        try relay.upstreamSends("pong")
        relay.loop.run()
        #expect(try relay.received() == "pong")
    }

    @Test("a malformed request before any head: 400 and the connection closes")
    func malformedBeforeHead() throws {
        let relay = try Harness()
        defer { relay.finish() }
        try? relay.send("NOT HTTP AT ALL\r\n\r\n")
        let response = try relay.received()
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(response.contains("Connection: close\r\n"))
        #expect(relay.upstreams.isEmpty)
        relay.advance(by: ProxyHandler.lingerTime)
        #expect(!relay.client.isActive)
    }

    @Test("a body over limits.maxRequestBodyBytes after the head: 413, nothing sent upstream")
    func errorAfterHead() throws {
        var configuration = RelayConfiguration()
        configuration.limits.maxRequestBodyBytes = 4
        let relay = try Harness(configuration: configuration)
        defer { relay.finish() }
        try relay.send(
            "POST /upload HTTP/1.1\r\nHost: relay\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        #expect(try relay.received().hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
        #expect(try relay.upstreamReceived().isEmpty, "the buffered body never left")
    }

    @Test("an upstream that closes before answering: 502; mid-body: the client connection is cut")
    func upstreamFailure() throws {
        let relay = try Harness()
        defer { relay.finish() }
        try relay.send("GET /one HTTP/1.1\r\nHost: relay\r\n\r\n")
        _ = try relay.upstreamReceived()
        relay.upstreams[0].pipeline.fireChannelInactive()
        let answer = try relay.received()
        #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(relay.client.isActive, "a complete request answered by the relay keeps the connection")

        try relay.send("GET /two HTTP/1.1\r\nHost: relay\r\n\r\n")
        _ = try relay.upstreamReceived(1)
        try relay.upstreamSends("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", on: 1)
        #expect(try relay.received().hasSuffix("half"))
        relay.upstreams[1].pipeline.fireChannelInactive()
        relay.loop.run()
        #expect(!relay.client.isActive, "the client must see the body end early")
    }

    @Test("no head within limits.headerReadTimeoutSeconds: 408; idle between requests: a silent close")
    func headerTimeouts() throws {
        let silent = try Harness()
        defer { silent.finish() }
        silent.advance(by: .seconds(10))
        #expect(try silent.received().hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))

        let idle = try Harness()
        defer { idle.finish() }
        try idle.send("GET / HTTP/1.1\r\nHost: relay\r\n\r\n")
        _ = try idle.upstreamReceived()
        try idle.upstreamSends(Self.okResponse)
        _ = try idle.received()
        idle.advance(by: .seconds(59))
        #expect(idle.client.isActive)
        idle.advance(by: .seconds(1))
        #expect(try idle.received().isEmpty, "nothing was asked, so nothing is owed")
        #expect(!idle.client.isActive)
    }

    @Test("quiesce: an idle connection closes at once; a busy one after its response, which says close")
    func quiesce() throws {
        let idle = try Harness()
        defer { idle.finish() }
        idle.client.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!idle.client.isActive)

        let busy = try Harness()
        defer { busy.finish() }
        try busy.send("GET / HTTP/1.1\r\nHost: relay\r\n\r\n")
        busy.client.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(busy.client.isActive)
        _ = try busy.upstreamReceived()
        try busy.upstreamSends(Self.okResponse)
        #expect(try busy.received().contains("Connection: close\r\n"))
        busy.loop.run()
        #expect(!busy.client.isActive)
    }
}
