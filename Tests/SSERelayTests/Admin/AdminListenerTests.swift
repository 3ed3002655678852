import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// The operators' window, the admin listener: `/metrics`, `/streams`, `/healthz`, `/readyz` and
/// the admin token, against a relay in front of the Node fixture.
@Suite("Admin listener", .timeLimit(.minutes(2)))
struct AdminListenerTests {
    /// Runs `body` with a relay, a fresh metrics registry and an admin listener in front of it.
    private func withAdmin<Value>(
        token: String? = nil,
        dedicatedBackend: Bool = false,
        _ body: (RelayUnderTest, SocketAddress) async throws -> Value
    ) async throws -> Value {
        try await withRelay(dedicatedBackend: dedicatedBackend) { relay in
            let admin = try await Self.bindAdmin(token: token, relay: relay)
            let result = await Result(catching: { try await body(relay, admin.localAddress) })
            await admin.close()
            return try result.get()
        }
    }

    private static func bindAdmin(token: String?, relay: RelayUnderTest) async throws -> AdminServer {
        var configuration = AdminConfiguration()
        configuration.token = token
        return try await AdminServer.bind(
            configuration, listen: .address(HostAndPort(host: "127.0.0.1", port: 0)), proxy: relay.server,
            logger: Logger(label: "admin-test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    private func scrape(_ admin: SocketAddress) async throws -> PrometheusExposition {
        let response = try await fetch(admin, .GET, "/metrics")
        #expect(response.status == .ok)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusExposition(parsing: response.text)
    }

    private func newConversation() -> String { "m-\(UUID().uuidString.prefix(8))" }

    @Test("after 2 started, 3 joined, 1 resumed, 1 204 and 1 replay miss the counters say exactly that")
    func scriptedCounters() async throws {
        try await self.withAdmin { relay, admin in
            let a = self.newConversation()
            let pathA = "/api/conversation/\(a)/stream?events=4&interval=10"
            let lastA = try await SSETestStream.open(relay.address, pathA) { stream in
                try await stream.readToEnd().last?.lastID
            }
            let noContent = try await fetch(
                relay.address, .GET, pathA, headers: [("Last-Event-ID", try #require(lastA))])
            #expect(noContent.status == .noContent)

            let b = self.newConversation()
            let pathB = "/api/conversation/\(b)/stream?events=6&interval=30&hold=1&cookie=1"
            let credentials = ("Authorization", "Bearer client-secret-b")
            try await SSETestStream.open(relay.address, pathB, headers: [credentials]) { first in
                _ = try await first.nextEvent()
                let second = try #require(try await first.nextEvent()?.lastID)
                let others: [[(String, String)]] = [
                    [credentials], [credentials], [credentials],
                    [credentials, ("Last-Event-ID", second)],
                    [credentials, ("Last-Event-ID", "0123456789abcdef-3")],
                ]
                try await withStreams(relay.address, pathB, others) { streams in
                    let modes = streams.map { $0.head.headers.first(name: "X-SSE-Relay") }
                    #expect(modes == ["joined", "joined", "joined", "resumed", "joined"])
                    for stream in [first] + streams {
                        try await stream.readEvents(through: "token 6 of \(b)")
                    }

                    let metrics = try await self.scrape(admin)
                    let outcomes = RelayMetrics.StreamOutcome.allCases.map {
                        ($0.rawValue, metrics.value("sse_relay_stream_requests_total", ["outcome": $0.rawValue]))
                    }
                    #expect(
                        Dictionary(uniqueKeysWithValues: outcomes) == [
                            "started": 2, "joined": 3, "resumed": 1, "no_content": 1, "replay_miss": 1,
                            "rejected": 0, "abandoned": 0, "over_limit": 0, "rate_limited": 0, "forwarded": 0,
                        ])
                    #expect(metrics.value("sse_relay_upstream_streams_started_total") == 2)
                    #expect(metrics.value("sse_relay_events_received_total") == 10)
                    #expect(metrics.value("sse_relay_ids_injected_total") == 10)
                    // A: 4 to one client; B: 6 to each of five clients, 4 to the resumed one.
                    #expect(metrics.value("sse_relay_events_delivered_total") == Double(4 + 6 * 5 + 4))
                    let replayed = try #require(metrics.value("sse_relay_events_replayed_total"))
                    // Each joiner got the 2+ events before it joined from the buffer (up to all 6 when it
                    // came late); the resumed client up to its 4.
                    #expect(replayed >= 2 * 4 && replayed <= 6 * 4 + 4)
                    #expect(metrics.value("sse_relay_stream_clients") == 6)
                    #expect(metrics.value("sse_relay_active_generations") == 1)
                    #expect(metrics.value("sse_relay_retained_generations") == 2)
                    #expect(metrics.value("sse_relay_requests_total", ["kind": "stream", "status": "204"]) == 1)
                    #expect(metrics.value("sse_relay_requests_total", ["kind": "stream", "status": "200"]) == 1)
                    #expect(try #require(metrics.value("sse_relay_event_delivery_seconds_count")) > 0)
                    #expect(try #require(metrics.value("sse_relay_replay_buffer_bytes")) > 0)
                    #expect(try #require(metrics.value("process_resident_memory_bytes")) > 1_000_000)
                    #expect(try #require(metrics.value("process_open_fds")) > 3)
                    for family in metrics.types.keys {
                        #expect(metrics.help[family]?.isEmpty == false, "\(family) has no HELP")
                    }

                    try await self.checkStreamsReport(admin, conversation: b)
                }
            }
        }
    }

    /// `/streams` while conversation `conversation` has six clients: every field, and no
    /// credential anywhere in the document.
    private func checkStreamsReport(_ admin: SocketAddress, conversation: String) async throws {
        let response = try await fetch(admin, .GET, "/streams")
        #expect(response.status == .ok)
        #expect(response.header("Content-Type") == "application/json")
        #expect(!response.text.contains("client-secret-b"))
        #expect(!response.text.contains("backend-secret"))
        let report = try Self.decoder.decode(Report.self, from: Data(response.body.readableBytesView))
        #expect(report.generations.count == 2)
        let live = try #require(report.generations.first { $0.parameters["conversationId"] == conversation })
        #expect(live.route == "/api/conversation/:conversationId/stream")
        #expect(live.state == "active")
        #expect(live.events == 6)
        #expect(live.retainedEvents == 6)
        #expect(live.bufferedBytes > 0)
        #expect(live.upstream?.status == 200)
        #expect(live.upstream?.headers.contains("Set-Cookie: \(HeaderRedaction.placeholder)") == true)
        #expect(live.clients.count == 6)
        #expect(live.clients.allSatisfy { $0.remoteAddress == "127.0.0.1" })
        #expect(live.clients.map(\.deliveredEvents).sorted() == [4, 6, 6, 6, 6, 6])
        #expect(Set(live.clients.map(\.mode)) == ["started", "joined", "resumed"])

        let one = try await fetch(admin, .GET, "/streams/\(live.generation)")
        #expect(one.status == .ok)
        #expect(
            try Self.decoder.decode(Report.Generation.self, from: Data(one.body.readableBytesView)).key == live.key)
        #expect(try await fetch(admin, .GET, "/streams/0123456789abcdef").status == .notFound)
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// The parts of `/streams` the tests read.
    private struct Report: Decodable {
        struct Generation: Decodable {
            var generation: String
            var key: String
            var route: String
            var parameters: [String: String]
            var state: String
            var events: Int
            var retainedEvents: Int
            var bufferedBytes: Int
            var upstream: Upstream?
            var clients: [Client]
        }
        struct Upstream: Decodable {
            var status: Int?
            var headers: [String]
        }
        struct Client: Decodable {
            var remoteAddress: String?
            var mode: String
            var deliveredEvents: Int
        }
        var generations: [Generation]
    }

    @Test("admin.token is enforced on every endpoint, in constant time, with 401 and a challenge")
    func token() async throws {
        try await self.withAdmin(token: "s3cret") { _, admin in
            for path in ["/metrics", "/streams", "/healthz", "/readyz"] {
                let missing = try await fetch(admin, .GET, path)
                #expect(missing.status == .unauthorized)
                #expect(missing.header("WWW-Authenticate") == #"Bearer realm="sse-relay""#)
                let wrong = try await fetch(admin, .GET, path, headers: [("Authorization", "Bearer s3creT")])
                #expect(wrong.status == .unauthorized)
            }
            let right = try await fetch(admin, .GET, "/metrics", headers: [("Authorization", "Bearer s3cret")])
            #expect(right.status == .ok)
            let scheme = try await fetch(admin, .GET, "/healthz", headers: [("Authorization", "bearer s3cret")])
            #expect(scheme.status == .ok)
        }
    }

    @Test("/healthz, HEAD, unknown paths and other methods")
    func endpoints() async throws {
        try await self.withAdmin { _, admin in
            let health = try await fetch(admin, .GET, "/healthz")
            #expect(health.status == .ok)
            #expect(health.text == "ok\n")
            let head = try await fetch(admin, .HEAD, "/healthz")
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
            #expect(try await fetch(admin, .GET, "/nope").status == .notFound)
            let post = try await fetch(admin, .POST, "/metrics")
            #expect(post.status == .methodNotAllowed)
            #expect(post.header("Allow") == "GET, HEAD")
        }
    }

    @Test("/readyz is 503 while the upstream is down, 200 when it is back, and 503 while draining")
    func readiness() async throws {
        let backend = try await BackendProcess.start()
        let relay = try await RelayUnderTest.start(backend: backend)
        let admin = try await Self.bindAdmin(token: nil, relay: relay)
        let outcome = await Result {
            let ready = try await fetch(admin.localAddress, .GET, "/readyz")
            #expect(ready.status == .ok)
            #expect(ready.text == "ready\n")

            await backend.stopAndWait()
            let down = try await fetch(admin.localAddress, .GET, "/readyz")
            #expect(down.status == .serviceUnavailable)
            #expect(down.text.contains("refused the connection"))

            let restarted = try await BackendProcess.start(port: backend.port)
            defer { restarted.stop() }  // Asynchronous: the process exits on its own.
            #expect(try await fetch(admin.localAddress, .GET, "/readyz").status == .ok)

            await relay.server.shutdown(gracePeriod: .seconds(1))
            let draining = try await fetch(admin.localAddress, .GET, "/readyz")
            #expect(draining.status == .serviceUnavailable)
            #expect(draining.text.hasPrefix("draining"))
            #expect(try await fetch(admin.localAddress, .GET, "/healthz").status == .ok)
        }
        await admin.close()
        await relay.stop()
        backend.stop()
        try outcome.get()
    }

    @Test("the admin endpoints parse from request targets")
    func endpointParsing() {
        #expect(AdminEndpoint(target: "/metrics") == .metrics)
        #expect(AdminEndpoint(target: "/metrics?x=1") == .metrics)
        #expect(AdminEndpoint(target: "/streams") == .streams)
        #expect(AdminEndpoint(target: "/streams/") == .streams)
        #expect(AdminEndpoint(target: "/streams/abc") == .stream(generation: "abc"))
        #expect(AdminEndpoint(target: "/streams/abc/def") == nil)
        #expect(AdminEndpoint(target: "/healthz") == .health)
        #expect(AdminEndpoint(target: "/readyz") == .readiness)
        #expect(AdminEndpoint(target: "/") == nil)
        #expect(AdminEndpoint(target: "metrics") == nil)
    }

    @Test(
        "the exposition parser rejects what Prometheus would",
        arguments: [
            "x_total 1\n",  // no TYPE
            "# TYPE x counter\nx 1\n",  // counter without _total
            "# TYPE x_total counter\nx_total{a=\"1} 1\n",  // unterminated label
            "# TYPE x_total counter\nx_total one\n",  // bad value
            "# TYPE x gauge\nx 1\nx 2\n",  // duplicate sample
            // Buckets that are not cumulative:
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 1\n",  // no +Inf
        ])
    func strictParser(text: String) {
        #expect(throws: PrometheusExposition.Invalid.self) { try PrometheusExposition(parsing: text) }
    }
}
