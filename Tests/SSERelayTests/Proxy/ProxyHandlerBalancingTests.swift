import NIOCore
import NIOEmbedded
import SSERelayCore
import Testing

@testable import SSERelay

/// ``ProxyHandler`` in front of several upstream servers, on `EmbeddedChannel`s: which server
/// a request or a stream goes to when one refuses connections or fails, and what that does to
/// the server's health.
@Suite("ProxyHandler with several servers")
struct ProxyHandlerBalancingTests {
    private typealias Harness = ProxyHandlerTests.Harness

    private static func configuration(servers: Int, maxFails: Int = 3) -> RelayConfiguration {
        var configuration = RelayConfiguration()
        configuration.upstream.servers = (0..<servers).map {
            UpstreamServerConfiguration(url: UpstreamURL(host: "127.0.0.1", port: 8080 + $0))
        }
        configuration.upstream.health.maxFails = maxFails
        configuration.upstream.health.failTimeoutSeconds = 3600
        return configuration
    }

    private static let okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    private static let streamResponse =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

    @Test("a server that refuses the connection is passed over: the request goes to the next, any method")
    func connectFailureGoesToNext() throws {
        let relay = try Harness(configuration: Self.configuration(servers: 3))
        defer { relay.finish() }
        relay.refusing = [0]
        try relay.send("POST /order HTTP/1.1\r\nHost: relay\r\nContent-Length: 3\r\n\r\nabc")
        #expect(relay.upstreamServers == [1], "the POST went to the next server; nothing reached server 0")
        #expect(try relay.upstreamReceived().hasSuffix("\r\n\r\nabc"), "with its whole body")
        try relay.upstreamSends(Self.okResponse)
        #expect(try relay.received().hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(
            try RelayMetricsProbe.value(
                relay.metrics, "sse_relay_upstream_server_failures_total", ["server": "http://127.0.0.1:8080"]) == 1)
    }

    @Test("every server refusing: 502 once each was tried, and no server twice")
    func everyServerRefuses() throws {
        let relay = try Harness(configuration: Self.configuration(servers: 3))
        defer { relay.finish() }
        relay.refusing = [0, 1, 2]
        try relay.send("GET /one HTTP/1.1\r\nHost: relay\r\n\r\n")
        #expect(try relay.received().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        for port in 8080...8082 {
            #expect(
                try RelayMetricsProbe.value(
                    relay.metrics, "sse_relay_upstream_server_failures_total", ["server": "http://127.0.0.1:\(port)"])
                    == 1)
        }
    }

    @Test("maxFails failures take a server out: no request goes to it, and /metrics says so")
    func takenOut() throws {
        let relay = try Harness(configuration: Self.configuration(servers: 2, maxFails: 2))
        defer { relay.finish() }
        relay.refusing = [0]
        // Two requests that each tried server 0 first: with ties in turn, every other one does.
        var served = 0
        for index in 0..<4 {
            try relay.send("GET /\(index) HTTP/1.1\r\nHost: relay\r\n\r\n")
            try relay.upstreamSends(Self.okResponse, on: relay.upstreams.count - 1)
            #expect(try relay.received().hasPrefix("HTTP/1.1 200 OK\r\n"))
            served += 1
        }
        #expect(served == 4)
        #expect(!relay.balancer.pools[0].server.takesTraffic(at: .now()))
        #expect(
            try RelayMetricsProbe.value(
                relay.metrics, "sse_relay_upstream_server_up", ["server": "http://127.0.0.1:8080"]) == 0)
        #expect(
            try RelayMetricsProbe.value(
                relay.metrics, "sse_relay_upstream_server_up", ["server": "http://127.0.0.1:8081"]) == 1)
        relay.refusing = []
        for index in 4..<8 {
            try relay.send("GET /\(index) HTTP/1.1\r\nHost: relay\r\n\r\n")
            try relay.upstreamSends(Self.okResponse, on: relay.upstreams.count - 1)
            _ = try relay.received()
        }
        #expect(!relay.upstreamServers.contains(0), "a server out of the rotation is sent nothing")
    }

    @Test("a 5xx answer to an idempotent request counts against the server; to a POST it does not")
    func serverErrors() throws {
        let relay = try Harness(configuration: Self.configuration(servers: 2, maxFails: 1))
        defer { relay.finish() }
        try relay.send("POST /a HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n")
        let postServer = try #require(relay.upstreamServers.last)
        try relay.upstreamSends("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", on: 0)
        #expect(try relay.received().hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"), "relayed as it is")
        #expect(relay.balancer.pools[postServer].server.takesTraffic(at: .now()))

        try relay.send("GET /b HTTP/1.1\r\nHost: relay\r\n\r\n")
        let getServer = try #require(relay.upstreamServers.last)
        try relay.upstreamSends(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", on: relay.upstreams.count - 1)
        #expect(try relay.received().hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(!relay.balancer.pools[getServer].server.takesTraffic(at: .now()))
    }

    /// The server a stream request for `conversation` is sent to, by a relay whose servers in
    /// `refusing` refuse connections, and what the client got.
    private static func streamServer(conversation: Int, refusing: Set<Int>) throws -> (server: Int?, client: String) {
        let relay = try Harness(configuration: Self.configuration(servers: 3))
        defer { relay.finish() }
        relay.refusing = refusing
        try relay.send("GET /api/conversation/\(conversation)/stream HTTP/1.1\r\nHost: relay\r\n\r\n")
        guard let server = relay.upstreamServers.last else { return (nil, try relay.received()) }
        #expect(try relay.upstreamReceived(relay.upstreams.count - 1).hasPrefix("GET /api/conversation/"))
        try relay.upstreamSends(
            Self.streamResponse + "9\r\ndata: a\n\n\r\n", on: relay.upstreams.count - 1)
        relay.loop.run()
        return (server, try relay.received())
    }

    @Test("a conversation's streams go to one server, on every relay; when it refuses, to the key's next")
    func streamPlacement() throws {
        var homes: Set<Int> = []
        for conversation in 1...12 {
            let home = try #require(try Self.streamServer(conversation: conversation, refusing: []).server)
            homes.insert(home)
            #expect(try Self.streamServer(conversation: conversation, refusing: []).server == home, "the same again")
            let fallback = try Self.streamServer(conversation: conversation, refusing: [home])
            let next = try #require(fallback.server)
            #expect(next != home)
            #expect(fallback.client.contains("data: a\nid: "), "the client got the stream from the next server")
        }
        #expect(homes.count > 1, "twelve conversations are not all on one server")
    }
}
