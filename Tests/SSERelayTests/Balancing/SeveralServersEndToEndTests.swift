import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// A relay in front of three real Node backends: pass-through requests spread over them, a
/// backend that dies is taken out with no request failing, it comes back when it returns, and
/// every stream of a conversation goes to one backend.
@Suite("Several upstream servers, end to end", .timeLimit(.minutes(2)))
struct SeveralServersEndToEndTests {
    private struct ConversationStats: Decodable {
        var starts: Int
    }

    /// Three backends and a relay in front of them; `adjust` changes its configuration.
    private static func start(
        _ adjust: (inout RelayConfiguration) -> Void = { _ in }
    ) async throws -> (RelayUnderTest, [BackendProcess]) {
        var backends: [BackendProcess] = []
        for _ in 0..<3 {
            backends.append(try await BackendProcess.start())
        }
        let ports = backends.map(\.port)
        let relay = try await RelayUnderTest.start(backend: nil) { configuration in
            configuration.upstream.servers = ports.map {
                UpstreamServerConfiguration(url: UpstreamURL(host: "127.0.0.1", port: $0))
            }
            adjust(&configuration)
        }
        return (relay, backends)
    }

    private static func serverLabel(_ port: Int) -> [String: String] {
        ["server": "http://127.0.0.1:\(port)"]
    }

    /// The relay's count of requests it sent to each backend.
    private static func requestCounts(_ relay: RelayUnderTest, _ ports: [Int]) throws -> [Int] {
        try ports.map {
            Int(
                try RelayMetricsProbe(relay: relay).value(
                    "sse_relay_upstream_server_requests_total", Self.serverLabel($0)) ?? 0)
        }
    }

    /// `count` GETs of `/hello`, one after another; every status.
    private static func hello(_ relay: RelayUnderTest, times count: Int) async throws -> [UInt] {
        var statuses: [UInt] = []
        for _ in 0..<count {
            statuses.append(try await fetch(relay.address, .GET, "/hello").head.status.code)
        }
        return statuses
    }

    @Test("pass-through spreads over three backends; one killed is taken out with no request failing, and comes back")
    func killAndRestart() async throws {
        let (relay, backends) = try await Self.start { configuration in
            configuration.upstream.health.check = UpstreamHealthCheckConfiguration(path: "/hello")
            configuration.upstream.health.check?.intervalSeconds = 0.2
            configuration.upstream.health.check?.timeoutSeconds = 1
        }
        var restarted: BackendProcess?
        defer {
            for backend in backends { backend.stop() }
            restarted?.stop()
        }
        let ports = backends.map(\.port)
        let probe = RelayMetricsProbe(relay: relay)

        #expect(try await Self.hello(relay, times: 30) == Array(repeating: 200, count: 30))
        let spread = try Self.requestCounts(relay, ports)
        for count in spread {
            #expect(count >= 5, "every backend takes a share: \(spread)")
        }

        await backends[1].stopAndWait()
        #expect(
            try await Self.hello(relay, times: 30) == Array(repeating: 200, count: 30),
            "connects refused by the dead backend go to the next server: no client sees a failure")
        try await probe.wait("sse_relay_upstream_server_up", Self.serverLabel(ports[1]), toBe: 0)
        let whileOut = try Self.requestCounts(relay, ports)
        #expect(try await Self.hello(relay, times: 20) == Array(repeating: 200, count: 20))
        #expect(
            try Self.requestCounts(relay, ports)[1] == whileOut[1], "nothing is sent to a server out of the rotation")

        restarted = try await BackendProcess.start(port: ports[1])
        try await probe.wait("sse_relay_upstream_server_up", Self.serverLabel(ports[1]), toBe: 1)
        let back = try Self.requestCounts(relay, ports)
        #expect(try await Self.hello(relay, times: 30) == Array(repeating: 200, count: 30))
        #expect(try Self.requestCounts(relay, ports)[1] >= back[1] + 5, "the backend is back in the rotation")
        await relay.stop()
    }

    /// Streams `conversation` through the relay to its end; returns the events' data.
    private static func stream(_ relay: RelayUnderTest, _ conversation: String) async throws -> [String] {
        try await SSETestStream.open(relay.address, "/api/conversation/\(conversation)/stream?events=3&interval=1") {
            try await $0.readToEnd().compactMap(\.data)
        }
    }

    /// How many times each backend started `conversation`.
    private static func starts(_ backends: [Int], _ conversation: String) async throws -> [Int] {
        var starts: [Int] = []
        for port in backends {
            let response = try await fetch(
                try SocketAddress(ipAddress: "127.0.0.1", port: port), .GET, "/api/conversation/\(conversation)/stats")
            starts.append(
                try JSONDecoder().decode(ConversationStats.self, from: Data(response.body.readableBytesView)).starts)
        }
        return starts
    }

    @Test("every generation of a conversation goes to one backend; when it dies, to the key's next, with no failure")
    func streamsStayHome() async throws {
        let (relay, backends) = try await Self.start { configuration in
            // Ended generations are not retained, so every reconnect starts a new one upstream.
            configuration.streams[0].retainSeconds = 0
        }
        defer {
            for backend in backends { backend.stop() }
        }
        let ports = backends.map(\.port)
        let conversations = (0..<12).map { "home-\($0)-\(UUID().uuidString.prefix(8))" }
        var homes: [String: Int] = [:]
        for conversation in conversations {
            for _ in 0..<3 {
                #expect(try await Self.stream(relay, conversation).count == 3)
                // The ended generation is dropped on the loop's next turn; until then a
                // reconnect would rightly get 204.
                try await RelayMetricsProbe(relay: relay).wait("sse_relay_retained_generations", toBe: 0)
            }
            let starts = try await Self.starts(ports, conversation)
            #expect(starts.sorted() == [0, 0, 3], "three generations, all on one backend: \(starts)")
            homes[conversation] = starts.firstIndex(of: 3)
        }
        #expect(Set(homes.values).count > 1, "conversations spread over the backends: \(homes)")

        let moved = conversations[0]
        let home = try #require(homes[moved])
        await backends[home].stopAndWait()
        #expect(try await Self.stream(relay, moved).count == 3, "the next server serves it, the client sees no failure")
        let others = try await Self.starts(ports.enumerated().filter { $0.offset != home }.map(\.element), moved)
        #expect(others.sorted() == [0, 1])
        let reported = try Self.reportedServers(relay)
        #expect(reported.map(\.server) == ports.map { "http://127.0.0.1:\($0)" })
        #expect(reported[home].failures == 1, "the refused connect counts against the dead backend")
        #expect(reported[home].state == "in", "one failure of three does not take it out")
        await relay.stop()
    }

    private struct BackendStats: Decodable {
        var requests: Int
    }

    /// The requests a backend has received (this one included).
    private static func backendRequests(_ port: Int) async throws -> Int {
        let response = try await fetch(try SocketAddress(ipAddress: "127.0.0.1", port: port), .GET, "/stats")
        return try JSONDecoder().decode(BackendStats.self, from: Data(response.body.readableBytesView)).requests
    }

    @Test("a reload replaces the servers: new requests go to the new ones, a stream in flight finishes on the old one")
    func reloadReplacesServers() async throws {
        let (relay, backends) = try await Self.start { configuration in
            configuration.upstream.servers = [configuration.upstream.servers[0]]
        }
        defer {
            for backend in backends { backend.stop() }
        }
        let ports = backends.map(\.port)
        let conversation = "reload-\(UUID().uuidString.prefix(8))"
        let path = "/api/conversation/\(conversation)/stream?events=20&interval=20"
        try await SSETestStream.open(relay.address, path) { stream in
            let first = try await stream.nextEvent()
            #expect(first?.data == "token 1 of \(conversation)")

            var configuration = relay.server.configuration
            configuration.upstream.servers = ports[1...].map {
                UpstreamServerConfiguration(url: UpstreamURL(host: "127.0.0.1", port: $0))
            }
            #expect(try await relay.server.reconfigure(configuration) == [], "every upstream key is reloadable")
            #expect(relay.server.upstreamServers.map(\.name) == ports[1...].map { "http://127.0.0.1:\($0)" })

            let before = try await Self.backendRequests(ports[0])
            #expect(try await Self.hello(relay, times: 20) == Array(repeating: 200, count: 20))
            #expect(try await Self.backendRequests(ports[0]) == before + 1, "only this /stats reached the old server")
            let counts = try Self.requestCounts(relay, ports)
            #expect(counts[0] == 0, "the removed server's metrics are gone")
            #expect(counts[1] + counts[2] == 20 && counts[1] > 0 && counts[2] > 0, "\(counts)")

            let rest = try await stream.readToEnd()
            #expect(rest.compactMap(\.data).count == 19, "the stream on the removed server finished there")
        }
        let starts = try await Self.starts(ports, conversation)
        #expect(starts == [1, 0, 0])
        await relay.stop()
    }

    /// The servers as `/streams` reports them.
    private static func reportedServers(_ relay: RelayUnderTest) throws -> [UpstreamServerReport] {
        StreamsReport(servers: relay.server.upstreamServers, generations: []).upstreamServers
    }
}
