import Logging
import NIOCore
import NIOPosix
import SSERelayCore
import Testing

@testable import SSERelay

/// ``ProxyHandler``'s cluster side on `EmbeddedChannel`s: what the peer listener lets in and
/// takes off a forwarded request, and what the proxy listener never honours. The node's
/// directory is in memory, made unreachable or draining first so that its answers come at
/// once, on the test's loop.
@Suite("ProxyHandler in a cluster")
struct ProxyHandlerClusterTests {
    private static let secret = "peer-secret-0123456789"
    private static let path = "/api/conversation/c1/stream"

    /// A node whose directory failed once, so it serves every request here without asking.
    private static func degradedNode() async -> ClusterNode {
        let directory = MemoryStreamDirectory()
        directory.set(.failing)
        let node = Self.node(directory)
        await node.renew([])
        return node
    }

    private static func node(_ directory: MemoryStreamDirectory) -> ClusterNode {
        let configuration = ClusterConfiguration(
            database: ClusterDatabaseConfiguration(host: "127.0.0.1", user: "relay"),
            peer: ClusterPeerConfiguration(listen: HostAndPort(host: "127.0.0.1", port: 0), secretFile: "/dev/null"))
        let metrics = ClusterMetrics(registry: RelayMetrics().registry)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        return ClusterNode(
            member: ClusterMember(id: "this", peerAddress: "127.0.0.1:7000"), configuration: configuration,
            directory: directory, credentials: PeerCredentials(secret: Array(Self.secret.utf8)),
            peers: PeerPools(
                group: MultiThreadedEventLoopGroup.singleton, upstream: UpstreamConfiguration(),
                receiveBuffers: ProxyServer.receiveBuffers, metrics: metrics, logger: logger),
            metrics: metrics, logger: logger)
    }

    private static func request(_ path: String, _ headers: [String] = []) -> String {
        (["GET \(path) HTTP/1.1", "Host: chat.example"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
    }

    @Test("the peer listener answers 403 and closes without the secret, or with a wrong one")
    func refusesWithoutSecret() async throws {
        let node = await Self.degradedNode()
        for headers in [[], ["SSE-Relay-Peer-Secret: \(String(Self.secret.reversed()))"]] {
            let harness = try ProxyHandlerTests.Harness(cluster: node, isPeerListener: true)
            defer { harness.finish() }
            try harness.send(Self.request(Self.path, headers))
            let answer = try harness.received()
            #expect(answer.hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
            #expect(answer.contains("Connection: close\r\n"))
            #expect(harness.upstreams.isEmpty)
        }
    }

    @Test("the peer listener serves stream requests only")
    func streamRequestsOnly() async throws {
        let node = await Self.degradedNode()
        let harness = try ProxyHandlerTests.Harness(cluster: node, isPeerListener: true)
        defer { harness.finish() }
        try harness.send(Self.request("/hello", ["SSE-Relay-Peer-Secret: \(Self.secret)"]))
        #expect(try harness.received().hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(harness.upstreams.isEmpty)
    }

    @Test("a forwarded request reaches the upstream without the peer headers, its budgets counting the client it names")
    func forwardedRequest() async throws {
        let node = await Self.degradedNode()
        let harness = try ProxyHandlerTests.Harness(cluster: node, isPeerListener: true)
        defer { harness.finish() }
        try harness.send(
            Self.request(
                Self.path, ["SSE-Relay-Peer-Secret: \(Self.secret)", "SSE-Relay-Peer-Client: 198.51.100.7"]))
        let upstream = try harness.upstreamReceived().lowercased()
        #expect(upstream.hasPrefix("get \(Self.path) http/1.1\r\n"))
        #expect(!upstream.contains("sse-relay-peer"))
        #expect(!upstream.contains(Self.secret.lowercased()))
        #expect(harness.registry.all.map(\.starterAddress) == ["198.51.100.7"])
    }

    @Test("the proxy listener never honours the peer headers: they are the client's own")
    func proxyListenerIgnoresPeerHeaders() async throws {
        let node = await Self.degradedNode()
        let harness = try ProxyHandlerTests.Harness(cluster: node)
        defer { harness.finish() }
        try harness.send(
            Self.request(
                Self.path, ["SSE-Relay-Peer-Secret: \(Self.secret)", "SSE-Relay-Peer-Client: 198.51.100.7"]))
        #expect(harness.registry.all.map(\.starterAddress) == ["192.0.2.1"])
        // Sent on as the client's headers, and part of its stream key like any other.
        #expect(try harness.upstreamReceived().lowercased().contains("sse-relay-peer-client: 198.51.100.7"))
        #expect(harness.registry.all.first?.key.headerNames.contains("sse-relay-peer-secret") == true)
    }

    @Test("a draining relay answers a request it would have to claim with the retry stream")
    func drainingRefuses() throws {
        let node = Self.node(MemoryStreamDirectory())
        node.beginDraining()
        let harness = try ProxyHandlerTests.Harness(cluster: node)
        defer { harness.finish() }
        try harness.send(Self.request(Self.path))
        let answer = try harness.received()
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.contains("retry: 2000\n"))
        #expect(answer.contains(": this relay is shutting down, retrying\n"))
        #expect(harness.upstreams.isEmpty)
        #expect(harness.registry.all.isEmpty)
        #expect(
            try RelayMetricsProbe.value(harness.metrics, "sse_relay_stream_requests_total", ["outcome": "rejected"])
                == 1)
    }
}
