import Logging
import NIOCore
import NIOPosix
import SSERelayCore
import Testing

@testable import SSERelay

/// ``ClusterNode`` against a directory in memory: where a request that would start a generation
/// is served, degraded mode and the return from it, and what a renewal renews, claims, releases
/// and finds lost.
@Suite("ClusterNode")
struct ClusterNodeTests {
    private static let other = ClusterMember(id: "other", peerAddress: "127.0.0.9:7000")

    private static func node(
        _ directory: MemoryStreamDirectory, timeout: Double = 2, renewInterval: Double = 5
    ) -> ClusterNode {
        var configuration = ClusterConfiguration(
            database: ClusterDatabaseConfiguration(host: "127.0.0.1", user: "relay"),
            peer: ClusterPeerConfiguration(listen: HostAndPort(host: "127.0.0.1", port: 0), secretFile: "/dev/null"))
        configuration.directoryTimeoutSeconds = timeout
        configuration.renewIntervalSeconds = renewInterval
        configuration.leaseSeconds = 15
        let metrics = ClusterMetrics(registry: RelayMetrics().registry)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        return ClusterNode(
            member: ClusterMember(id: "this", peerAddress: "127.0.0.1:7000"), configuration: configuration,
            directory: directory, credentials: PeerCredentials(secret: Array("0123456789abcdef".utf8)),
            peers: PeerPools(
                group: MultiThreadedEventLoopGroup.singleton, upstream: UpstreamConfiguration(),
                receiveBuffers: ProxyServer.receiveBuffers, metrics: metrics, logger: logger),
            metrics: metrics, logger: logger)
    }

    private static func claim(_ key: String, at node: ClusterNode) async throws -> ClusterNode.Decision {
        try await node.claim(key, on: MultiThreadedEventLoopGroup.singleton.next()).get()
    }

    @Test("a free key is won and served here; a key another live relay holds is forwarded to it")
    func wonAndLost() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory)
        #expect(try await Self.claim("a", at: node) == .serveHere)
        #expect(directory.rows["a"]?.owner == node.member)
        #expect(node.leaseStanding(of: "a") == "held")

        directory.insert("b", owner: Self.other, leaseSeconds: 15)
        #expect(try await Self.claim("b", at: node) == .forward(to: Self.other))
        #expect(node.leaseStanding(of: "b") == nil)
    }

    @Test("a key this relay holds is won again; an expired lease of another relay is taken over")
    func againAndTakenOver() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory)
        #expect(try await Self.claim("a", at: node) == .serveHere)
        #expect(try await Self.claim("a", at: node) == .serveHere)

        directory.insert("b", owner: Self.other, leaseSeconds: 15)
        directory.advance(by: 16)
        #expect(try await Self.claim("b", at: node) == .serveHere)
        #expect(directory.rows["b"]?.owner == node.member)
    }

    @Test("a failing directory degrades the node: served here, and later claims do not ask")
    func degradesOnFailure() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory)
        directory.set(.failing)
        #expect(try await Self.claim("a", at: node) == .serveHere)
        #expect(node.isDegraded)
        let asked = directory.statements
        #expect(try await Self.claim("b", at: node) == .serveHere)
        #expect(directory.statements == asked)
        #expect(node.leaseStanding(of: "a") == "unconfirmed")
        #expect(node.leaseStanding(of: "b") == "unconfirmed")
    }

    @Test("a directory that stops answering is given up on at the timeout")
    func degradesOnTimeout() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory, timeout: 0.05)
        directory.set(.hanging)
        #expect(try await Self.claim("a", at: node) == .serveHere)
        #expect(node.isDegraded)
        directory.set(.failing)
    }

    @Test("a renewal that reaches the directory again rejoins, and claims what was served meanwhile")
    func rejoins() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory)
        directory.set(.failing)
        _ = try await Self.claim("a", at: node)
        directory.set(.up)
        await node.renew([DirectoryLease(key: "a", generation: "g1", state: .active)])
        #expect(!node.isDegraded)
        #expect(directory.rows["a"]?.owner == node.member)
        #expect(node.leaseStanding(of: "a") == "held")
        // The next renewal renews it, recording its generation.
        await node.renew([DirectoryLease(key: "a", generation: "g1", state: .finished)])
        #expect(directory.rows["a"]?.generation == "g1")
        #expect(directory.rows["a"]?.state == .finished)
    }

    @Test("a key served meanwhile that another relay claimed is lost, never renewed nor claimed again")
    func servedMeanwhileAndTaken() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory)
        directory.set(.failing)
        _ = try await Self.claim("a", at: node)
        directory.insert("a", owner: Self.other, leaseSeconds: 15)
        directory.set(.up)
        await node.renew([DirectoryLease(key: "a", generation: "g1", state: .active)])
        #expect(node.leaseStanding(of: "a") == "lost")
        let asked = directory.statements
        await node.renew([DirectoryLease(key: "a", generation: "g1", state: .active)])
        // One statement: the renewal of nothing else; no claim of the lost key.
        #expect(directory.statements == asked + 1)
        #expect(directory.rows["a"]?.owner == Self.other)
    }

    @Test("a lease that expired and was taken is found lost at renewal")
    func lostAtRenewal() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory)
        _ = try await Self.claim("a", at: node)
        directory.advance(by: 16)
        directory.insert("a", owner: Self.other, leaseSeconds: 15)
        await node.renew([DirectoryLease(key: "a", generation: "g1", state: .active)])
        #expect(node.leaseStanding(of: "a") == "lost")
        #expect(directory.rows["a"]?.owner == Self.other)
    }

    @Test("a claim never used is kept for one interval, then released; a key no longer served is released")
    func releasesUnused() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory, renewInterval: 5)
        _ = try await Self.claim("a", at: node)
        _ = try await Self.claim("b", at: node)
        await node.renew([DirectoryLease(key: "b", generation: "g", state: .active)])
        #expect(directory.rows["a"] != nil)
        #expect(directory.rows["b"]?.state == .active)
        await node.renew([], now: .now() + .seconds(6))
        #expect(directory.rows["a"] == nil)
        #expect(directory.rows["b"] == nil)
        #expect(node.heldKeyCount == 0)
    }

    @Test("a draining node refuses keys it does not hold and serves those it does")
    func draining() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory)
        _ = try await Self.claim("a", at: node)
        node.beginDraining()
        #expect(try await Self.claim("a", at: node) == .serveHere)
        #expect(try await Self.claim("b", at: node) == .refuse)
        #expect(directory.rows["b"] == nil)
    }

    @Test("stopping releases every lease")
    func releaseAll() async throws {
        let directory = MemoryStreamDirectory()
        let node = Self.node(directory)
        _ = try await Self.claim("a", at: node)
        _ = try await Self.claim("b", at: node)
        directory.insert("c", owner: Self.other, leaseSeconds: 15)
        await node.releaseAll()
        #expect(directory.rows.keys.sorted() == ["c"])
    }
}
