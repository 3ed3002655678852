import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// Hostile and broken clients: slowloris, pipelining floods, clients that vanish with
/// a reset, a client that never reads. The relay answers or drops them and serves on, with
/// nothing leaked.
@Suite("Hostile: clients", .timeLimit(.minutes(2)))
struct HostileClientTests {
    private func conversation() -> String { "s-\(UUID().uuidString.prefix(8))" }

    @Test("slowloris, a byte every 0.5 s: 408 within limits.headerReadTimeoutSeconds, not held open")
    func slowloris() async throws {
        try await withRelay({ $0.limits.headerReadTimeoutSeconds = 1 }) { relay in
            let head = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: \(String(repeating: "z", count: 40))\r\n\r\n"
            // Taken before connecting: the relay's timer starts at accept, which is after this
            // and may be well before this task resumes from `connect` on a loaded machine.
            let start = ContinuousClock.now
            let channel = try await RawTestConnection.connect(to: relay.address)
            let (answer, elapsed, sent) = try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: (String, Duration)?.self) { group in
                    let sentBytes = SentCounter()
                    group.addTask {
                        var text = ""
                        do {
                            for try await chunk in inbound { text += String(buffer: chunk) }
                        } catch {
                            // A reset after the answer: what arrived counts.
                        }
                        return (text, ContinuousClock.now - start)
                    }
                    group.addTask {
                        for byte in head.utf8 {
                            try await outbound.write(ByteBuffer(bytes: [byte]))
                            await sentBytes.increment()
                            // Pacing, not synchronisation: this is what a slowloris does.
                            try await Task.sleep(for: .milliseconds(500))
                        }
                        return nil
                    }
                    // The reader finishes first: the relay closed the connection.
                    var first: (String, Duration)?
                    while first == nil, let next = try await group.next() { first = next }
                    group.cancelAll()
                    let (text, elapsed) = try #require(first)
                    return (text, elapsed, await sentBytes.value)
                }
            }
            #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "got \(answer.debugDescription)")
            #expect(elapsed >= .milliseconds(900))
            #expect(elapsed < .seconds(4))
            #expect(sent < head.utf8.count)
            try await RelayMetricsProbe(relay: relay).waitForNoClients()
        }
    }

    @Test("a pipelining flood of 500 GETs in one write: all answered in order, then still usable")
    func pipeliningFlood() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            var counter = try await BackendRequestCounter(relay: relay)
            let metrics = RelayMetricsProbe(relay: relay)
            let before = try #require(try metrics.value("process_resident_memory_bytes"))
            let count = 500
            let flood = (0..<count).map { "GET /echo?n=\($0) HTTP/1.1\r\nHost: a\r\n\r\n" }.joined()
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(flood)
                for index in 0..<count {
                    let response = try await connection.readResponse()
                    #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
                    let seen = try EchoSeen(rawResponse: response)
                    guard seen.url == "/echo?n=\(index)" else {
                        Issue.record("response \(index) answers \(seen.url)")
                        return
                    }
                }
                try await connection.write("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(try await connection.readResponse().hasSuffix("hello world"))
            }
            let after = try #require(try metrics.value("process_resident_memory_bytes"))
            let bound = Double(256 << 20) + Sanitizers.residentMemoryAllowance
            #expect(after - before < bound, "RSS grew by \((after - before) / 1_048_576) MiB")
            #expect(try await counter.count() == count + 1)
            try await metrics.waitForNoClients()
        }
    }

    @Test("a stream client that resets mid-event: the others get everything, nothing leaks")
    func resetMidEvent() async throws {
        try await withRelay { relay in
            let path = "/api/conversation/\(self.conversation())/stream?events=40&interval=5&size=65536"
            try await SSETestStream.open(relay.address, path) { reader in
                _ = try await reader.nextEvent()
                try await RawTestConnection.withConnection(to: relay.address) { vanishing in
                    try await vanishing.write("GET \(path) HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n")
                    // Well into the first 64 KiB event, then gone.
                    try await vanishing.read(atLeast: 100_000)
                    try await vanishing.reset()
                }
                var data = 1
                while try await reader.nextEvent() != nil { data += 1 }
                #expect(data == 40)
            }
            #expect(try await fetch(relay.address, .GET, "/hello").text == "hello world")
            try await RelayMetricsProbe(relay: relay).waitForNoClients()
        }
    }

    @Test(
        "a client that leaves mid-header (reset or FIN): nothing answered or counted as a 400, the relay serves on",
        arguments: [true, false])
    func leaveMidHeader(reset: Bool) async throws {
        try await withRelay { relay in
            let metrics = RelayMetricsProbe(relay: relay)
            try await RawTestConnection.withConnection(to: relay.address) { vanishing in
                try await vanishing.write("GET /hello HTTP/1.1\r\nHost: a\r\nX-Partial: abc")
                // The relay has the connection (and the partial head) before it goes.
                try await metrics.wait("sse_relay_client_connections", toBe: 1)
                if reset {
                    try await vanishing.reset()
                } else {
                    try await vanishing.finishWriting()
                    #expect(try await vanishing.readToEnd() == "", "a 400 to a client that left")
                }
            }
            #expect(try await fetch(relay.address, .GET, "/hello").text == "hello world")
            try await metrics.waitForNoClients()
            #expect(try metrics.value("sse_relay_requests_total", ["kind": "invalid", "status": "400"]) == nil)
        }
    }

    @Test("a client that resets mid-upload: the upstream request is aborted, the relay serves on, nothing leaks")
    func resetMidUpload() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            var counter = try await BackendRequestCounter(relay: relay)
            try await RawTestConnection.withConnection(to: relay.address) { vanishing in
                try await vanishing.write("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")
                try await vanishing.write(String(repeating: "u", count: 300_000))
                // The upload is under way at the backend before the client goes.
                try await counter.wait(forRequests: 1)
                try await vanishing.reset()
            }
            let upload = try await fetch(relay.address, .POST, "/upload", body: ByteBuffer(repeating: 7, count: 1000))
            #expect(upload.text.contains("\"bytes\":1000"))
            try await RelayMetricsProbe(relay: relay).waitForNoClients()
        }
    }

    @Test("a stream client that never reads is dropped at limits.clientQueueBytes and counted; others unaffected")
    func stalledClient() async throws {
        try await withRelay({ $0.limits.clientQueueBytes = 1024 * 1024 }) { relay in
            let metrics = RelayMetricsProbe(relay: relay)
            // 1,500 events of 4 KiB, about 6 MB: far beyond what the stalled client's socket and
            // channel buffer hold and its 1 MiB allowance. The upstream writes them only when the
            // test releases them (`gate=1`), 50 at a time (about 210 KiB), and releases the next
            // 50 once the reading client has read the last: that client is never more than one
            // release behind, well inside its allowance, however slowly this process runs. Paced
            // by time instead, a reader held up for half a second on a busy machine fell 1 MiB
            // behind and was dropped too.
            let conversation = self.conversation()
            let path = "/api/conversation/\(conversation)/stream?events=1500&size=4096&gate=1"
            let batch = 50
            try await RawTestConnection.withConnection(to: relay.address, receiveBufferSize: 4096) { stalled in
                try await stalled.write("GET \(path) HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n")
                // The head comes once the upstream answered: its stream is open and waits.
                _ = try await stalled.read(until: "\r\n\r\n")
                let received = try await SSETestStream.open(relay.address, path) { reader in
                    #expect(reader.head.headers.first(name: "X-SSE-Relay") == "joined")
                    var received = 0
                    for _ in 0..<(1500 / batch) {
                        try await self.release(relay, conversation, events: batch)
                        for _ in 0..<batch {
                            guard try await reader.nextEvent() != nil else { return received }
                            received += 1
                        }
                    }
                    // The last release ended the upstream: the end marker, then the end.
                    return received + (try await reader.readToEnd().filter { $0.data != nil }.count)
                }
                #expect(received == 1500)
                try await metrics.wait("sse_relay_limit_hits_total", ["limit": "limits.clientQueueBytes"], toBe: 1)
                #expect(try metrics.value("sse_relay_slow_clients_dropped_total") == 1)
                // Cut before the end: its response never completes.
                #expect(!(try await stalled.readToEnd()).hasSuffix("0\r\n\r\n"))
            }
            try await metrics.waitForNoClients()
        }
    }

    /// Has the backend write the next `events` events of the conversation's `gate=1` stream.
    private func release(_ relay: RelayUnderTest, _ conversation: String, events: Int) async throws {
        struct Released: Decodable { var streams: Int }
        let response = try await fetch(
            relay.backendAddress, .POST, "/api/conversation/\(conversation)/release?events=\(events)")
        let released = try JSONDecoder().decode(Released.self, from: Data(response.body.readableBytesView))
        guard released.streams == 1 else {
            throw FixtureError("the backend held \(released.streams) streams of \(conversation), expected 1")
        }
    }

    @Test("a stream client left behind the replay buffer is dropped and counted, not as a clientQueueBytes hit")
    func clientBehindReplayBuffer() async throws {
        try await withRelay({
            $0.limits.clientQueueBytes = 64 << 20
            $0.streams[0].replay.maxEvents = 300
        }) { relay in
            let metrics = RelayMetricsProbe(relay: relay)
            // 1,500 events of 4 KiB: the stalled client's socket holds a few of them, so its
            // position leaves the 300 retained events long before its lag reaches 64 MiB.
            let path = "/api/conversation/\(self.conversation())/stream?events=1500&interval=2&size=4096"
            try await RawTestConnection.withConnection(to: relay.address, receiveBufferSize: 4096) { stalled in
                try await stalled.write("GET \(path) HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n")
                _ = try await stalled.read(until: "\r\n\r\n")
                // Generous: under ThreadSanitizer beside the whole suite the 1,500 events took
                // longer than 20 s to pass the stalled client once.
                try await metrics.wait("sse_relay_slow_clients_dropped_total", toBe: 1, within: 90)
                #expect(try metrics.value("sse_relay_limit_hits_total", ["limit": "limits.clientQueueBytes"]) == 0)
                #expect(!(try await stalled.readToEnd()).hasSuffix("0\r\n\r\n"))
            }
            try await metrics.waitForNoClients()
        }
    }
}

/// Bytes a concurrently running writer has sent.
private actor SentCounter {
    private(set) var value = 0
    func increment() { self.value += 1 }
}
