import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// Fault injection on the upstream side: each case asserts what every client got and
/// that the relay serves on.
@Suite("Hostile: upstream faults", .timeLimit(.minutes(2)))
struct HostileUpstreamFaultTests {
    private struct ConversationStats: Decodable { var starts: Int }

    private func conversation() -> String { "f-\(UUID().uuidString.prefix(8))" }

    /// Runs `body` with a relay in front of a scripted upstream; stops both.
    private func withScriptedRelay<Output: Sendable>(
        _ script: @escaping ScriptedUpstream.Script,
        _ adjust: @escaping (inout RelayConfiguration) -> Void = { _ in },
        _ body: (RelayUnderTest, ScriptedUpstream) async throws -> Output
    ) async throws -> Output {
        let upstream = try await ScriptedUpstream.start(script)
        let result = await Result {
            let relay = try await RelayUnderTest.start(backend: nil) {
                $0.upstream.url = UpstreamURL(host: "127.0.0.1", port: upstream.port)
                adjust(&$0)
            }
            let outcome = await Result { try await body(relay, upstream) }
            await relay.stop()
            return try outcome.get()
        }
        await upstream.stop()
        return try result.get()
    }

    /// Every event with data until the stream ends, however it ends (cleanly or cut).
    private func drain(_ stream: SSETestStream, into events: inout [ServerSentEvent]) async {
        do {
            while let event = try await stream.nextEvent() { events.append(event) }
        } catch {
            // Cut by the relay when its upstream died: what arrived before counts.
        }
    }

    @Test("upstream killed mid-stream: clients keep the buffered part, resume without duplicates, no restart")
    func upstreamKilledMidStream() async throws {
        let backend = try await BackendProcess.start()
        let relay = try await RelayUnderTest.start(backend: backend)
        let result = await Result {
            let conversation = self.conversation()
            let path = "/api/conversation/\(conversation)/stream?events=1000&interval=20"
            let (first, second) = try await SSETestStream.open(relay.address, path) { first in
                var firstEvents: [ServerSentEvent] = []
                for _ in 0..<3 { firstEvents.append(try #require(try await first.nextEvent())) }
                let secondEvents = try await SSETestStream.open(relay.address, path) { second in
                    var events: [ServerSentEvent] = []
                    for _ in 0..<3 { events.append(try #require(try await second.nextEvent())) }
                    await backend.stopAndWait()
                    await self.drain(second, into: &events)
                    return events
                }
                await self.drain(first, into: &firstEvents)
                return (firstEvents, secondEvents)
            }
            // Both got the same events, in order, each once, then the failure event: an
            // answer cut short never looks finished.
            let failure = "{\"reason\":\"upstream_closed\"}"
            #expect(first.last?.type == EventStreamWriter.failureEventName)
            #expect(first.last?.data == failure)
            #expect(second.last?.data == failure)
            let received = first.dropLast().map(\.data)
            #expect(received == second.dropLast().map(\.data))
            let count = received.count
            #expect(count >= 3)
            #expect(count < 1000)
            #expect(received == (1...count).map { "token \($0) of \(conversation)" })

            // Resuming after the second event: the rest of the buffered part, once.
            let resumed = try await SSETestStream.open(
                relay.address, path, headers: [("Last-Event-ID", try #require(first[1].lastID))]
            ) { stream in
                #expect(stream.head.headers.first(name: "X-SSE-Relay") == "resumed")
                var events: [ServerSentEvent] = []
                await self.drain(stream, into: &events)
                return events.map(\.data)
            }
            #expect(resumed == Array(received.dropFirst(2)) + [failure])
            // Reconnecting with the failure marker: 204, and no new upstream request.
            let marker = try #require(first.last?.lastID)
            #expect(RelayEventID(parsingFailureMarker: marker) != nil)
            let after = try await fetch(relay.address, .GET, path, headers: [("Last-Event-ID", marker)])
            #expect(after.status == .noContent)
            #expect(try RelayMetricsProbe(relay: relay).value("sse_relay_upstream_streams_started_total") == 1)

            // The backend comes back on its port: the relay never asked it to restart the completion.
            let restarted = try await BackendProcess.start(port: backend.port)
            let stats = await Result {
                let response = try await fetch(
                    relay.backendAddress, .GET, "/api/conversation/\(conversation)/stats")
                let hello = try await fetch(relay.address, .GET, "/hello")
                return (
                    try JSONDecoder().decode(ConversationStats.self, from: Data(response.body.readableBytesView)), hello
                )
            }
            await restarted.stopAndWait()
            let (conversationStats, hello) = try stats.get()
            #expect(conversationStats.starts == 0)
            #expect(hello.text == "hello world")
        }
        await relay.stop(stoppingBackend: true)
        try result.get()
    }

    @Test("pass-through: headers then a stall is not a response timeout; the client leaving closes the upstream")
    func headersThenStallPassThrough() async throws {
        try await self.withScriptedRelay(
            { connection, _ in
                _ = try await connection.readRequest()
                try await connection.write(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial")
                try await connection.waitForPeerClose()
            },
            // 2 s: the scripted upstream answers at once, but a sanitizer build on a loaded
            // machine has taken over a second to get the head through.
            { $0.upstream.responseTimeoutSeconds = 2 }
        ) { relay, upstream in
            try await RawTestConnection.withConnection(to: relay.address) { client in
                try await client.write("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
                let head = try await client.read(until: "partial")
                #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
                #expect(head.contains("Content-Length: 100\r\n"))
                // Well past the response timeout, still no error: the timeout covers the head only.
                try await Task.sleep(for: .milliseconds(2500))
                let metrics = RelayMetricsProbe(relay: relay)
                #expect(try metrics.value("sse_relay_upstream_errors_total", ["reason": "response_timeout"]) == nil)
            }
            try await waitUntil("the relay closed the stalled upstream connection") {
                await upstream.log.closedByPeer.contains(0)
            }
            try await RelayMetricsProbe(relay: relay).waitForNoClients()
        }
    }

    @Test("stream: headers then a stall keeps the clients with heartbeats; the upstream is cancelled after they leave")
    func headersThenStallStream() async throws {
        try await self.withScriptedRelay(
            { connection, _ in
                _ = try await connection.readRequest()
                try await connection.write(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: first\n\n")
                try await connection.waitForPeerClose()
            },
            {
                $0.streams[0].heartbeatSeconds = 0.1
                $0.streams[0].upstreamLingerSeconds = 0
            }
        ) { relay, upstream in
            try await SSETestStream.open(relay.address, "/api/conversation/\(self.conversation())/stream") { stream in
                let data = try await stream.nextEvent()?.data
                let comment = try await stream.nextComment()
                #expect(stream.head.status == .ok)
                #expect(data == "first")
                #expect(comment == ":")
            }
            try await waitUntil("the relay cancelled the stalled upstream") {
                await upstream.log.closedByPeer.contains(0)
            }
            try await RelayMetricsProbe(relay: relay).waitForNoClients()
        }
    }

    private static let garbage: ScriptedUpstream.Script = { connection, _ in
        _ = try await connection.readRequest()
        try await connection.write("SSH-2.0-OpenSSH_9.2p1\r\n\u{0}\u{1}\u{2} not HTTP at all\r\n\r\n")
    }

    @Test("garbage instead of HTTP: 502, the client connection kept, the relay serves on")
    func garbagePassThrough() async throws {
        try await self.withScriptedRelay(Self.garbage) { relay, _ in
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                for _ in 0..<2 {
                    let response = try await connection.request(.GET, "/anything")
                    #expect(response.status == .badGateway)
                    #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
                }
            }
            let metrics = RelayMetricsProbe(relay: relay)
            #expect(try metrics.value("sse_relay_upstream_errors_total", ["reason": "invalid_response"]) == 2)
        }
    }

    @Test("garbage instead of HTTP on a stream route: 502 with upstreamFailure status, a retry stream by default")
    func garbageStream() async throws {
        try await self.withScriptedRelay(Self.garbage, { $0.streams[0].upstreamFailure = .status }) { relay, _ in
            let response = try await fetch(relay.address, .GET, "/api/conversation/\(self.conversation())/stream")
            #expect(response.status == .badGateway)
        }
        try await self.withScriptedRelay(Self.garbage) { relay, _ in
            try await SSETestStream.open(relay.address, "/api/conversation/\(self.conversation())/stream") { stream in
                #expect(stream.head.status == .ok)
                let blocks = try await stream.readToEnd()
                #expect(blocks.first?.retry == 2000)
                #expect(!blocks.contains { $0.data != nil })
                #expect(stream.comments.contains { $0.contains("upstream") })
            }
            #expect(
                try await fetch(relay.address, .GET, "/api/conversation/\(self.conversation())/stream").status == .ok)
        }
    }

    @Test("an SSE line of 10 MiB fails its generation cleanly; memory stays bounded; the relay serves on")
    func tenMebibyteLine() async throws {
        try await withRelay { relay in
            let metrics = RelayMetricsProbe(relay: relay)
            let before = try #require(try metrics.value("process_resident_memory_bytes"))
            let conversation = self.conversation()
            let path = "/api/conversation/\(conversation)/stream?events=2&size=\(10 << 20)"
            try await SSETestStream.open(relay.address, path) { stream in
                #expect(stream.head.status == .ok)
                var events: [ServerSentEvent] = []
                await self.drain(stream, into: &events)
                // No event of the generation, only the failure event that says it failed.
                #expect(events.map(\.data) == ["{\"reason\":\"invalid_stream\"}"])
            }
            #expect(try metrics.value("sse_relay_upstream_errors_total", ["reason": "invalid_event_stream"]) == 1)
            let after = try #require(try metrics.value("process_resident_memory_bytes"))
            // Loose: RSS is the whole test process, shared with tests running in parallel.
            let bound = Double(256 << 20) + Sanitizers.residentMemoryAllowance
            #expect(after - before < bound, "RSS grew by \((after - before) / 1_048_576) MiB")
            #expect(try await fetch(relay.address, .GET, "/hello").text == "hello world")
            let small = try await SSETestStream.open(
                relay.address, "/api/conversation/\(self.conversation())/stream?events=2"
            ) {
                try await $0.readToEnd().filter { $0.data != nil }.count
            }
            #expect(small == 2)
        }
    }

    @Test("an upstream that closes a reused keep-alive connection: GET retried, POST with a body not")
    func closedOnReuse() async throws {
        try await self.withScriptedRelay(
            { connection, _ in
                var served = 0
                while try await connection.readRequest() != nil, served == 0 {
                    served += 1
                    try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                }
                // Returning closes the connection the moment its second request arrived.
            },
            {
                // Generous: under a sanitizer on a busy machine a loopback connect has taken
                // longer than the default 2 s.
                $0.upstream.connectTimeoutSeconds = 10
            }
        ) { relay, upstream in
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                let first = try await connection.request(.GET, "/first")
                #expect(first.text == "ok", "status \(first.status): \(first.text)")
                // Reuses the pooled connection, which closes: a POST with a body is not retried.
                let post = try await connection.request(.POST, "/second", body: ByteBuffer(string: "abc"))
                #expect(post.status == .badGateway)
                // A fresh connection; then reused, it closes: the GET is retried on another.
                #expect(try await connection.request(.GET, "/third").text == "ok")
                #expect(try await connection.request(.GET, "/fourth").text == "ok")
            }
            let lines = await upstream.log.requestLines
            #expect(lines.filter { $0 == "POST /second HTTP/1.1" }.count == 1)
            #expect(lines.filter { $0 == "GET /fourth HTTP/1.1" }.count == 2)
            #expect(lines.count == 5)
        }
    }
}
