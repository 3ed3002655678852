import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// What a hostile client or a broken backend could do to the stream engine, each against the
/// Node fixture on its own (so its counters are this test's alone): completions that run on
/// for nobody, failed answers that look finished, clients that start completions as fast as
/// they can connect.
@Suite("Stream safety", .timeLimit(.minutes(2)))
struct StreamSafetyTests {
    private struct Completions: Decodable {
        var started: Int
        var running: Int
    }

    private struct ConversationStats: Decodable {
        var starts: Int
        var aborted: Int
    }

    private func newConversation() -> String { "s-\(UUID().uuidString.prefix(8))" }

    private func completions(_ relay: RelayUnderTest) async throws -> Completions {
        let response = try await fetch(relay.backendAddress, .GET, "/completions")
        return try JSONDecoder().decode(Completions.self, from: Data(response.body.readableBytesView))
    }

    private func stats(_ relay: RelayUnderTest, _ conversation: String) async throws -> ConversationStats {
        let response = try await fetch(relay.backendAddress, .GET, "/api/conversation/\(conversation)/stats")
        return try JSONDecoder().decode(ConversationStats.self, from: Data(response.body.readableBytesView))
    }

    private func metric(_ relay: RelayUnderTest, _ name: String, _ labels: [String: String] = [:]) throws -> Double {
        let exposition = String(decoding: relay.server.metricsExposition(), as: UTF8.self)
        return try PrometheusExposition(parsing: exposition).value(name, labels) ?? 0
    }

    /// Polls `condition` (state held by another process, which cannot be awaited) every 20 ms,
    /// at most `attempts` times (20 s: a saturated machine, such as a sanitizer run beside a
    /// fuzzer, delays the backend's own bookkeeping by seconds); fails with `what` when it never
    /// holds.
    private func waitUntil(
        _ what: String, attempts: Int = 1000, _ condition: () async throws -> Bool
    ) async throws {
        for _ in 0..<attempts {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("never happened: \(what)")
    }

    private func failureData(_ reason: GenerationFailure) -> String { "{\"reason\":\"\(reason.rawValue)\"}" }

    // MARK: Failed answers are never presented as finished

    @Test("an upstream that drops mid-answer: the events, then relay-error with a failure marker; that marker gets 204")
    func droppedUpstream() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=6&interval=10&drop=3"
            let blocks = try await SSETestStream.open(relay.address, path) { try await $0.readToEnd() }
            let events = blocks.filter { $0.data != nil }
            #expect(
                events.map(\.data)
                    == (1...3).map { "token \($0) of \(conversation)" } + [self.failureData(.upstreamClosed)])
            let failure = try #require(events.last)
            #expect(failure.type == EventStreamWriter.failureEventName)
            let marker = try #require(failure.lastID)
            let failed = try #require(RelayEventID(parsingFailureMarker: marker))
            #expect(failed.sequence == 3)
            // The reconnect that follows the failure event stops EventSource: no second completion.
            let stop = try await fetch(relay.address, .GET, path, headers: [("Last-Event-ID", marker)])
            #expect(stop.status == .noContent)
            // A client that dropped after event 2 gets event 3, then the failure, never a clean end.
            let resumed = try await SSETestStream.open(
                relay.address, path, headers: [("Last-Event-ID", "\(failed.generation)-2")]
            ) { try await $0.readToEnd() }
            #expect(
                resumed.filter { $0.data != nil }.map(\.data)
                    == ["token 3 of \(conversation)", self.failureData(.upstreamClosed)])
            #expect(!resumed.contains { $0.lastID.map(RelayEventID.isEndMarker) ?? false })
            // A client that had every event still learns of the failure: not 204.
            let atHead = try await SSETestStream.open(
                relay.address, path, headers: [("Last-Event-ID", "\(failed.generation)-3")]
            ) { try await $0.readToEnd() }
            #expect(atHead.filter { $0.data != nil }.map(\.data) == [self.failureData(.upstreamClosed)])
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("an over-long event line fails the generation with invalid_stream, not a clean end")
    func overlongLine() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=4&interval=10&overlong=2"
            let blocks = try await SSETestStream.open(relay.address, path) { try await $0.readToEnd() }
            let events = blocks.filter { $0.data != nil }
            #expect(events.map(\.data) == ["token 1 of \(conversation)", self.failureData(.invalidStream)])
            let marker = try #require(events.last?.lastID)
            #expect(RelayEventID(parsingFailureMarker: marker)?.sequence == 1)
            let stop = try await fetch(relay.address, .GET, path, headers: [("Last-Event-ID", marker)])
            #expect(stop.status == .noContent)
        }
    }

    @Test("a generation cancelled after its linger time: a returning client gets what it missed, then relay-error")
    func cancelledAfterLinger() async throws {
        try await withRelay(dedicatedBackend: true, { $0.streams[0].upstreamLingerSeconds = 0.2 }) { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=3&interval=10&hold=1"
            let first = try await SSETestStream.open(relay.address, path) { stream in
                try await stream.nextEvent()
            }
            let lastID = try #require(first?.lastID)
            // Nobody comes back within the linger time: the relay closes the backend's request.
            try await self.waitUntil("the upstream is cancelled") {
                try await self.stats(relay, conversation).aborted == 1
            }
            let resumed = try await SSETestStream.open(relay.address, path, headers: [("Last-Event-ID", lastID)]) {
                try await $0.readToEnd()
            }
            let events = resumed.filter { $0.data != nil }
            #expect(events.last?.data == self.failureData(.cancelled))
            #expect(events.dropLast().map(\.data) == ["token 2 of \(conversation)", "token 3 of \(conversation)"])
            let marker = try #require(events.last?.lastID)
            let stop = try await fetch(relay.address, .GET, path, headers: [("Last-Event-ID", marker)])
            #expect(stop.status == .noContent)
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("afterFailure restart: the failure marker's reconnect starts a new completion")
    func restartAfterFailure() async throws {
        try await withRelay(dedicatedBackend: true, { $0.streams[0].afterFailure = .restart }) { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=4&interval=10&drop=2"
            let first = try await SSETestStream.open(relay.address, path) { try await $0.readToEnd() }
            let marker = try #require(first.last { $0.data != nil }?.lastID)
            #expect(RelayEventID(parsingFailureMarker: marker) != nil)
            let again = try await SSETestStream.open(relay.address, path, headers: [("Last-Event-ID", marker)]) {
                stream in
                #expect(stream.head.headers.first(name: "X-SSE-Relay") == "started")
                return try await stream.nextEvent()?.data
            }
            #expect(again == "token 1 of \(conversation)")
            #expect(try await self.stats(relay, conversation).starts == 2)
        }
    }

    // MARK: Completions nobody listens to

    @Test(
        "1,000 stream requests that connect and close at once leave no completion running; /hello still 200",
        .disabled(if: Sanitizers.isActive, Sanitizers.loadTestReason))
    func hitAndRunFlood() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            let prefix = self.newConversation()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in 0..<10 {
                    group.addTask {
                        for index in 0..<100 {
                            try await RawTestConnection.withConnection(to: relay.address) { connection in
                                try await connection.write(
                                    "GET /api/conversation/\(prefix)-\(batch)-\(index)/stream HTTP/1.1\r\n"
                                        + "Host: relay\r\nAccept: text/event-stream\r\n\r\n")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Every completion started was abandoned (nobody received an event), and the rate
            // limit kept one address from starting more than its burst.
            try await self.waitUntil("every completion is cancelled") {
                try await self.completions(relay).running == 0
            }
            let started = try await self.completions(relay).started
            // The burst, and what the bucket refilled (2 a second) while the flood lasted.
            #expect(started <= LimitsConfiguration().streamStartBurstPerClient + 20)
            #expect(try self.metric(relay, "sse_relay_stream_requests_total", ["outcome": "rate_limited"]) > 0)
            #expect(try self.metric(relay, "sse_relay_generations_abandoned_total") >= 1)
            #expect(relay.server.streams.lingeringCount == 0)
            let hello = try await fetch(relay.address, .GET, "/hello")
            #expect(hello.status == .ok)
        }
    }

    @Test("lingering is bounded: past limits.maxLingeringGenerations a left stream is cancelled at once")
    func lingeringBudget() async throws {
        try await withRelay(dedicatedBackend: true, { $0.limits.maxLingeringGenerations = 3 }) { relay in
            let prefix = self.newConversation()
            for index in 0..<8 {
                // Each client receives an event (so its stream is worth lingering for), then leaves.
                let data = try await SSETestStream.open(
                    relay.address, "/api/conversation/\(prefix)-\(index)/stream?events=2&interval=5&hold=1"
                ) { try await $0.nextEvent()?.data }
                #expect(data == "token 1 of \(prefix)-\(index)")
            }
            try await self.waitUntil("only the budget's generations still run") {
                try await self.completions(relay).running == 3
            }
            #expect(relay.server.streams.lingeringCount == 3)
            #expect(
                try self.metric(relay, "sse_relay_limit_hits_total", ["limit": "limits.maxLingeringGenerations"]) == 5)
        }
    }

    @Test("lingering is bounded per client address (limits.maxLingeringPerClient, read from clientAddressHeader)")
    func lingeringBudgetPerClient() async throws {
        try await withRelay(
            dedicatedBackend: true,
            {
                $0.limits.maxLingeringPerClient = 2
                $0.limits.clientAddressHeader = "X-Forwarded-For"
            }
        ) { relay in
            let prefix = self.newConversation()
            for (index, client) in ["10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"].enumerated() {
                let data = try await SSETestStream.open(
                    relay.address, "/api/conversation/\(prefix)-\(index)/stream?events=2&interval=5&hold=1",
                    headers: [("X-Forwarded-For", "192.0.2.9, \(client)")]
                ) { try await $0.nextEvent()?.data }
                #expect(data == "token 1 of \(prefix)-\(index)")
            }
            // Two of the first address and the one of the second linger; one of the first
            // address's three was cancelled: the one whose client the relay saw leave last,
            // which under load need not be the last to close (the three connections may sit on
            // different event loops, which notice the closes in their own time).
            // (The backend counts a request closed and a stream closed in two callbacks.)
            try await self.waitUntil("one of the first address's streams is cancelled") {
                let running = try await self.completions(relay).running
                var aborted = 0
                for index in 0..<3 {
                    aborted += try await self.stats(relay, "\(prefix)-\(index)").aborted
                }
                return running == 3 && aborted == 1
            }
            #expect(try await self.stats(relay, "\(prefix)-3").aborted == 0, "the second address's stream lingers")
            #expect(relay.server.streams.lingeringCount == 3)
            #expect(try await self.completions(relay).running == 3)
            #expect(
                try self.metric(relay, "sse_relay_limit_hits_total", ["limit": "limits.maxLingeringPerClient"]) == 1)
        }
    }

    @Test("new generations are rate limited per client address: 429 with Retry-After; joins are free")
    func startRate() async throws {
        try await withRelay(
            dedicatedBackend: true,
            {
                $0.limits.streamStartBurstPerClient = 2
                $0.limits.streamStartsPerClientPerMinute = 1
                $0.limits.clientAddressHeader = "X-Forwarded-For"
            }
        ) { relay in
            let prefix = self.newConversation()
            let first = "/api/conversation/\(prefix)-1/stream?events=3&interval=5&hold=1"
            try await SSETestStream.open(relay.address, first, headers: [("X-Forwarded-For", "10.0.0.1")]) {
                stream in
                _ = try await stream.nextEvent()
                let second = try await fetch(
                    relay.address, .GET, "/api/conversation/\(prefix)-2/stream?events=1",
                    headers: [("X-Forwarded-For", "10.0.0.1")])
                #expect(second.status == .ok)
                let third = try await fetch(
                    relay.address, .GET, "/api/conversation/\(prefix)-3/stream?events=1",
                    headers: [("X-Forwarded-For", "10.0.0.1")])
                #expect(third.status == .tooManyRequests)
                #expect(Int(third.header("Retry-After") ?? "") ?? 0 >= 1)
                // Joining the open generation starts nothing, so it is not limited.
                let join = try await SSETestStream.open(
                    relay.address, first, headers: [("X-Forwarded-For", "10.0.0.1")]
                ) { joined in
                    #expect(joined.head.headers.first(name: "X-SSE-Relay") == "joined")
                    return try await joined.nextEvent()?.data
                }
                #expect(join == "token 1 of \(prefix)-1")
                // Another address has its own budget.
                let other = try await fetch(
                    relay.address, .GET, "/api/conversation/\(prefix)-3/stream?events=1",
                    headers: [("X-Forwarded-For", "10.0.0.2")])
                #expect(other.status == .ok)
            }
            #expect(try self.metric(relay, "sse_relay_stream_requests_total", ["outcome": "rate_limited"]) == 1)
            #expect(try await self.completions(relay).started == 3)
        }
    }

    // MARK: What keeps requests apart is visible

    @Test("requests kept apart only by a header's value are counted by header name")
    func collapsePreventedIsCounted() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            let path = "/api/conversation/\(self.newConversation())/stream?events=2&interval=5&hold=1"
            try await SSETestStream.open(relay.address, path, headers: [("X-API-Key", "alice")]) { alice in
                _ = try await alice.nextEvent()
                try await SSETestStream.open(
                    relay.address, path, headers: [("X-API-Key", "bob"), ("X-Request-ID", "r-2")]
                ) { bob in
                    #expect(bob.head.headers.first(name: "X-SSE-Relay") == "started")
                    _ = try await bob.nextEvent()
                }
            }
            #expect(try self.metric(relay, "sse_relay_collapse_prevented_total", ["header": "x-api-key"]) == 1)
            // A header edges add per request is no part of the key, so it split nothing.
            #expect(try self.metric(relay, "sse_relay_collapse_prevented_total", ["header": "x-request-id"]) == 0)
            #expect(try await self.completions(relay).started == 2)
        }
    }
}
