import Logging
import NIOCore
import NIOEmbedded
import SSERelayCore
import Testing

@testable import SSERelay

/// ``UpstreamBalancer`` over pools on an `EmbeddedEventLoop` whose connections are embedded
/// channels: which server each request and stream is given, as outstanding requests, weights
/// and health change.
@Suite("UpstreamBalancer")
struct UpstreamBalancerTests {
    private static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The loop of one test and the upstream channels its pools opened, closed at its end (an
    /// open `EmbeddedChannel` and its pipeline refer to each other, and so to the pool).
    final class TestLoop {
        let loop = EmbeddedEventLoop()
        var channels: [EmbeddedChannel] = []

        func finish() {
            for channel in self.channels {
                _ = try? channel.finish()
            }
            try? self.loop.syncShutdownGracefully()
        }
    }

    /// A balancer over `weights.count` servers (server `i` at 127.0.0.1, port 9000 + `i`).
    private static func balancer(
        weights: [Int], health: UpstreamHealthConfiguration = UpstreamHealthConfiguration(),
        loop testLoop: TestLoop
    ) throws -> UpstreamBalancer {
        let loop = testLoop.loop
        var configuration = UpstreamConfiguration()
        configuration.servers = weights.enumerated().map { index, weight in
            UpstreamServerConfiguration(url: UpstreamURL(host: "127.0.0.1", port: 9000 + index), weight: weight)
        }
        configuration.health = health
        let metrics = RelayMetrics()
        let budget = UpstreamStreamBudget(limit: 100)
        let pools = configuration.servers.enumerated().map { index, server in
            let connector = UpstreamConnector { _ in
                let channel = EmbeddedChannel(loop: loop)
                do {
                    try UpstreamConnector.installHandlers(on: channel)
                    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9000 + index)).wait()
                } catch {
                    return loop.makeFailedFuture(error)
                }
                testLoop.channels.append(channel)
                return loop.makeSucceededFuture(channel)
            }
            let upstreamServer = UpstreamServer(
                index: index, configuration: server,
                addresses: UpstreamAddresses(host: "127.0.0.1", port: 9000 + index), health: configuration.health,
                tracksHealth: weights.count > 1, metrics: metrics.upstreamServer(server.url.description),
                logger: Self.logger)
            return UpstreamConnectionPool(
                eventLoop: loop, server: upstreamServer, connector: connector, configuration: configuration,
                limit: 100, streamBudget: budget)
        }
        return UpstreamBalancer(pools: pools, streamBudget: budget)
    }

    /// Takes a pass-through connection from the pool the balancer chooses; returns its server.
    @discardableResult
    private static func request(_ balancer: UpstreamBalancer, holding held: inout [UpstreamConnection]) -> Int? {
        guard let pool = balancer.poolForRequest() else { return nil }
        var connection: UpstreamConnection?
        pool.acquire { connection = try? $0.get() }
        if let connection { held.append(connection) }
        return pool.server.index
    }

    private static func takeOut(_ server: UpstreamServer) {
        for _ in 0..<3 { server.recordFailure("test") }
    }

    @Test("with equal weights, requests held open spread one per server in turn")
    func spreadsHeldRequests() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1, 1, 1], loop: loop)
        var held: [UpstreamConnection] = []
        let chosen = (0..<9).compactMap { _ in Self.request(balancer, holding: &held) }
        #expect(chosen.count == 9)
        for server in 0..<3 {
            #expect(chosen.filter { $0 == server }.count == 3, "\(chosen)")
        }
        #expect(balancer.pools.map(\.outstanding) == [3, 3, 3])
    }

    @Test("requests that end at once (none outstanding) still take the servers in turn")
    func tiesInTurn() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1, 1, 1], loop: loop)
        let chosen = (0..<6).compactMap { _ in balancer.poolForRequest()?.server.index }
        #expect(chosen == [0, 1, 2, 0, 1, 2])
    }

    @Test("a server with fewer outstanding requests gets the next one")
    func leastOutstanding() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1, 1], loop: loop)
        var held: [UpstreamConnection] = []
        for _ in 0..<4 { Self.request(balancer, holding: &held) }
        // Release server 0's two: it has none outstanding, server 1 has two.
        for connection in held where connection.server?.index == 0 {
            connection.release()
        }
        #expect(balancer.pools.map(\.outstanding) == [0, 2])
        var more: [UpstreamConnection] = []
        #expect(Self.request(balancer, holding: &more) == 0)
        #expect(Self.request(balancer, holding: &more) == 0)
        #expect(balancer.pools.map(\.outstanding) == [2, 2])
    }

    @Test("weights 1 and 3: held requests split 1 : 3")
    func weighted() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1, 3], loop: loop)
        var held: [UpstreamConnection] = []
        let chosen = (0..<40).compactMap { _ in Self.request(balancer, holding: &held) }
        #expect(chosen.filter { $0 == 0 }.count == 10, "\(chosen)")
        #expect(chosen.filter { $0 == 1 }.count == 30)
    }

    @Test("a server out of the rotation gets nothing; when all are out, all are candidates again")
    func outOfRotation() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1, 1, 1], loop: loop)
        Self.takeOut(balancer.pools[1].server)
        let chosen = (0..<6).compactMap { _ in balancer.poolForRequest()?.server.index }
        #expect(!chosen.contains(1), "\(chosen)")
        #expect(Set(chosen) == [0, 2])
        Self.takeOut(balancer.pools[0].server)
        Self.takeOut(balancer.pools[2].server)
        let fallback = (0..<6).compactMap { _ in balancer.poolForRequest()?.server.index }
        #expect(Set(fallback) == [0, 1, 2], "\(fallback)")
    }

    @Test("servers tried already are never chosen again, and none is left once all were tried")
    func excluding() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1, 1, 1], loop: loop)
        var tried = ServerSet.empty
        var order: [Int] = []
        while let pool = balancer.poolForRequest(excluding: tried), order.count < 10 {
            order.append(pool.server.index)
            tried.insert(pool.server.index)
        }
        #expect(order.sorted() == [0, 1, 2])
        #expect(balancer.poolForStream(placement: 42, excluding: tried) == nil)
    }

    @Test("a single server is always chosen, healthy or not, until it was tried")
    func singleServer() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1], loop: loop)
        Self.takeOut(balancer.pools[0].server)
        #expect(balancer.pools[0].server.takesTraffic(at: .now()), "one server's health is not tracked")
        #expect(balancer.poolForRequest() === balancer.pools[0])
        var tried = ServerSet.empty
        tried.insert(0)
        #expect(balancer.poolForRequest(excluding: tried) == nil)
        #expect(balancer.poolForStream(placement: 1, excluding: tried) == nil)
    }

    @Test("a stream key goes to one server every time; out of the rotation, only its keys move, and they come back")
    func streamPlacement() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1, 1, 1], loop: loop)
        let keys = (0..<300).map { RendezvousPlacement.stableHash("conversation-\($0)".utf8) }
        let placed = keys.map { balancer.poolForStream(placement: $0)?.server.index }
        #expect(keys.map { balancer.poolForStream(placement: $0)?.server.index } == placed, "stable")
        #expect(Set(placed.compactMap { $0 }) == [0, 1, 2], "spread")
        let server = balancer.pools[2].server
        Self.takeOut(server)
        for (key, before) in zip(keys, placed) {
            let after = balancer.poolForStream(placement: key)?.server.index
            if before == 2 {
                #expect(after != 2)
            } else {
                #expect(after == before, "a key of a healthy server moved")
            }
        }
        server.recordCheck(passed: true, reason: "test")
        #expect(keys.map { balancer.poolForStream(placement: $0)?.server.index } == placed, "back in, back home")
    }

    @Test("a stream that could not connect to its server goes to the key's next, the same for every try")
    func streamNextServer() throws {
        let loop = TestLoop()
        defer { loop.finish() }
        let balancer = try Self.balancer(weights: [1, 1, 1], loop: loop)
        let key = RendezvousPlacement.stableHash("conversation-7".utf8)
        let first = try #require(balancer.poolForStream(placement: key)?.server.index)
        var tried = ServerSet.empty
        tried.insert(first)
        let second = try #require(balancer.poolForStream(placement: key, excluding: tried)?.server.index)
        #expect(second != first)
        #expect(balancer.poolForStream(placement: key, excluding: tried)?.server.index == second)
    }
}
