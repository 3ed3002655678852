import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// The stream engine against the Node fixture's fake LLM completions: one upstream request per
/// stream key shared by its clients, relay ids, resuming with `Last-Event-ID`, and the end.
@Suite("Stream engine", .timeLimit(.minutes(2)))
struct StreamEngineTests {
    struct ConversationStats: Decodable {
        var starts: Int
        var aborted: Int
        var lastEventIds: [String?]
        /// The `Authorization` header of each upstream request, in order.
        var authorizations: [String?]
    }

    func stats(_ relay: RelayUnderTest, _ conversation: String) async throws -> ConversationStats {
        let response = try await fetch(relay.backendAddress, .GET, "/api/conversation/\(conversation)/stats")
        return try JSONDecoder().decode(ConversationStats.self, from: Data(response.body.readableBytesView))
    }

    func newConversation() -> String { "c-\(UUID().uuidString.prefix(8))" }

    func expectedData(_ conversation: String, _ range: ClosedRange<Int>) -> [String] {
        range.map { "token \($0) of \(conversation)" }
    }

    @Test("a stream gets retry, a priming id, relay ids on every event, and the SSE headers")
    func firstBlockAndIDs() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let blocks = try await SSETestStream.open(
                relay.address, "/api/conversation/\(conversation)/stream?events=3"
            ) { stream in
                #expect(stream.head.status == .ok)
                #expect(stream.head.headers.first(name: "Content-Type") == "text/event-stream")
                #expect(stream.head.headers.first(name: "Cache-Control") == "no-cache, no-transform")
                #expect(stream.head.headers.first(name: "X-Accel-Buffering") == "no")
                #expect(stream.head.headers.first(name: "X-SSE-Relay") == "started")
                #expect(stream.head.headers.first(name: "X-Conversation") == conversation)
                #expect(stream.head.headers.first(name: "Content-Length") == nil)
                return try await stream.readToEnd()
            }
            let first = try #require(blocks.first)
            #expect(first.retry == 2000)
            let priming = try #require(first.lastID.flatMap(RelayEventID.init(parsing:)))
            #expect(priming.sequence == 0)
            let events = blocks.filter { $0.data != nil }
            #expect(events.map(\.data) == self.expectedData(conversation, 1...3))
            #expect(events.map(\.lastID) == (1...3).map { "\(priming.generation)-\($0)" })
        }
    }

    @Test("20 concurrent clients of one conversation share one upstream and get identical sequences")
    func collapsing() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            // `hold=1`: the upstream stays open after its events, so a client that arrives late
            // still finds the generation open (lingering at worst) and joins it.
            let path = "/api/conversation/\(conversation)/stream?events=10&interval=20&hold=1"
            let results = try await withThrowingTaskGroup(of: [String?].self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await SSETestStream.open(relay.address, path) { stream in
                            var data: [String?] = []
                            for _ in 0..<10 { data.append(try await stream.nextEvent()?.data) }
                            return data
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 20)
            for result in results {
                #expect(result == self.expectedData(conversation, 1...10))
            }
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("a client joining mid-stream gets the whole sequence once")
    func joinMidStream() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            // `hold=1` keeps the generation open however late the second client comes.
            let path = "/api/conversation/\(conversation)/stream?events=8&interval=20&hold=1"
            try await SSETestStream.open(relay.address, path) { first in
                // Wait until the generation is under way, then join.
                for _ in 0..<3 { _ = try await first.nextEvent() }
                let joined = try await SSETestStream.open(relay.address, path) { second in
                    #expect(second.head.headers.first(name: "X-SSE-Relay") == "joined")
                    var data: [String?] = []
                    for _ in 0..<8 { data.append(try await second.nextEvent()?.data) }
                    return data
                }
                #expect(joined == self.expectedData(conversation, 1...8))
            }
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("a client that drops after k events resumes with Last-Event-ID: k+1…n exactly once, no new start")
    func resume() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=6&interval=20"
            let lastID = try await SSETestStream.open(relay.address, path) { stream in
                var last: String?
                for _ in 0..<2 { last = try await stream.nextEvent()?.lastID }
                return last
            }
            let resumed = try await SSETestStream.open(
                relay.address, path, headers: [("Last-Event-ID", try #require(lastID))]
            ) {
                stream in
                #expect(stream.head.headers.first(name: "X-SSE-Relay") == "resumed")
                return try await stream.readToEnd().filter { $0.data != nil }.map(\.data)
            }
            #expect(resumed == self.expectedData(conversation, 3...6))
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("a client that drops before the first event resumes through its priming id")
    func resumeFromPrimingID() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=4&interval=30"
            let primingID = try await SSETestStream.open(relay.address, path) { stream in
                try await stream.nextBlock()?.lastID
            }
            let resumed = try await SSETestStream.open(
                relay.address, path, headers: [("Last-Event-ID", try #require(primingID))]
            ) {
                stream in try await stream.readToEnd().filter { $0.data != nil }.map(\.data)
            }
            #expect(resumed == self.expectedData(conversation, 1...4))
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("a reconnect after the end with nothing left gets 204")
    func noContentAfterEnd() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=2"
            let lastID = try await SSETestStream.open(relay.address, path) { stream in
                try await stream.readToEnd().last?.lastID
            }
            let response = try await fetch(
                relay.address, .GET, path, headers: [("Last-Event-ID", try #require(lastID))])
            #expect(response.status == .noContent)
            #expect(response.body.readableBytes == 0)
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("upstream ids are kept and resumable")
    func upstreamIDs() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=5&interval=20&ids=1"
            let firstTwo = try await SSETestStream.open(relay.address, path) { stream in
                [try await stream.nextEvent()?.lastID, try await stream.nextEvent()?.lastID]
            }
            #expect(firstTwo == ["up-1", "up-2"])
            let rest = try await SSETestStream.open(relay.address, path, headers: [("Last-Event-ID", "up-2")]) {
                stream in
                try await stream.readToEnd().filter { $0.data != nil }.map(\.lastID)
            }
            #expect(rest == ["up-3", "up-4", "up-5"])
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("the upstream's retry is replaced by the route's")
    func retryReplaced() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let blocks = try await SSETestStream.open(
                relay.address, "/api/conversation/\(conversation)/stream?events=2&retry=5000"
            ) {
                try await $0.readToEnd()
            }
            let retries = blocks.compactMap(\.retry)
            #expect(retries == [2000])
            #expect(!blocks.contains { $0.lines.contains { String(decoding: $0.raw, as: UTF8.self) == "retry: 5000" } })
        }
    }

    @Test("a non-200 upstream answer reaches every waiting client and is not retained")
    func rejectedAnswer() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?status=401"
            let responses = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for _ in 0..<3 {
                    group.addTask { try await fetch(relay.address, .GET, path) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for response in responses {
                #expect(response.status == .unauthorized)
                #expect(response.text == "no stream for \(conversation): status 401")
                #expect(response.header("X-Conversation") == conversation)
            }
            // Not retained: the next request asks the upstream again.
            let again = try await fetch(relay.address, .GET, path)
            #expect(again.status == .unauthorized)
        }
    }

    @Test("when every client leaves, the upstream is cancelled after the linger time")
    func lingerThenCancel() async throws {
        try await withRelay({ $0.streams[0].upstreamLingerSeconds = 0.2 }) { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=2&interval=10&hold=1"
            _ = try await SSETestStream.open(relay.address, path) { stream in
                try await stream.nextEvent()
            }
            // The backend records the abort when the relay closes the upstream request.
            var stats = try await self.stats(relay, conversation)
            for _ in 0..<2_000 where stats.aborted == 0 {
                stats = try await self.stats(relay, conversation)
            }
            #expect(stats.aborted == 1)
            #expect(stats.starts == 1)
        }
    }

    @Test("comments reach live clients; CRLF frames arrive as the same events")
    func commentsAndLineEndings() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let (data, comments) = try await SSETestStream.open(
                relay.address, "/api/conversation/\(conversation)/stream?events=3&comment=1&crlf=1"
            ) { stream in
                let data = try await stream.readToEnd().filter { $0.data != nil }.map(\.data)
                return (data, stream.comments)
            }
            #expect(data == self.expectedData(conversation, 1...3))
            #expect(comments == [": keep-alive", ": keep-alive", ": keep-alive"])
        }
    }

    @Test("an unreachable upstream answers 200 with retry and a comment that says why")
    func upstreamFailureRetry() async throws {
        try await withRelay({ $0.upstream.url = UpstreamURL(host: "127.0.0.1", port: 1) }) { relay in
            let blocks = try await SSETestStream.open(relay.address, "/api/conversation/x/stream") { stream in
                #expect(stream.head.status == .ok)
                #expect(stream.head.headers.first(name: "Content-Type") == "text/event-stream")
                let blocks = try await stream.readToEnd()
                #expect(stream.comments.first?.hasPrefix(": upstream unavailable: ") ?? false)
                return blocks
            }
            #expect(blocks.compactMap(\.retry) == [2000])
        }
    }

    @Test("with upstreamFailure status, an unreachable upstream answers 502")
    func upstreamFailureStatus() async throws {
        try await withRelay({
            $0.upstream.url = UpstreamURL(host: "127.0.0.1", port: 1)
            $0.streams[0].upstreamFailure = .status
        }) { relay in
            let response = try await fetch(relay.address, .GET, "/api/conversation/x/stream")
            #expect(response.status == .badGateway)
            #expect(response.text.contains("refused"))
        }
    }
}

extension StreamEngineTests {
    @Test("a client that never reads is dropped; five others get every event")
    func stalledClientIsDropped() async throws {
        // A small receive buffer on the stalled client, so its socket is full at once; a pace
        // the five readers keep up with easily.
        try await withRelay({ $0.limits.clientQueueBytes = 1024 * 1024 }) { relay in
            let conversation = self.newConversation()
            // About 6 MB in all over 3 s: far more than the stalled connection's buffers and
            // its 1 MiB allowance hold, while a reader may pause for half a second unharmed.
            let path = "/api/conversation/\(conversation)/stream?events=1500&interval=2&size=4096"
            try await RawTestConnection.withConnection(to: relay.address, receiveBufferSize: 4096) { stalled in
                try await stalled.write("GET \(path) HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n")
                _ = try await stalled.read(until: "\r\n\r\n")
                let readers = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<5 {
                        group.addTask {
                            try await SSETestStream.open(relay.address, path) { stream in
                                try await stream.readToEnd().filter { $0.data != nil }.count
                            }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(readers == [1500, 1500, 1500, 1500, 1500])
                // The stalled client was cut before the end: its stream never completes.
                let rest = try await stalled.readToEnd()
                #expect(!rest.hasSuffix("0\r\n\r\n"))
            }
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }
}

extension StreamEngineTests {
    @Test("a quiet stream gets heartbeat comments")
    func heartbeats() async throws {
        try await withRelay({ $0.streams[0].heartbeatSeconds = 0.05 }) { relay in
            let conversation = self.newConversation()
            try await SSETestStream.open(relay.address, "/api/conversation/\(conversation)/stream?events=1&hold=1") {
                stream in
                let data = try await stream.nextEvent()?.data
                let beats = [try await stream.nextComment(), try await stream.nextComment()]
                #expect(data == "token 1 of \(conversation)")
                #expect(beats == [":", ":"])
            }
        }
    }

    @Test("over limits.replayMemoryBytes, ended generations are dropped first")
    func replayMemoryBound() async throws {
        // Room for one conversation's 5 events (about 350 bytes each with their overhead), not two.
        try await withRelay({ $0.limits.replayMemoryBytes = 3_000 }) { relay in
            let first = self.newConversation()
            let second = self.newConversation()
            // The last event's id: a client that dropped just before the end marker.
            let lastID = try await SSETestStream.open(relay.address, "/api/conversation/\(first)/stream?events=5") {
                try await $0.readToEnd().last { $0.data != nil }?.lastID
            }
            #expect(relay.server.streams.totalReplayBytes > 0)
            // The second conversation's events push the total over the bound: the first,
            // ended generation is dropped, so its id can no longer be resumed.
            _ = try await SSETestStream.open(relay.address, "/api/conversation/\(second)/stream?events=5") {
                try await $0.readToEnd()
            }
            #expect(relay.server.streams.totalReplayBytes <= 3_000)
            let again = try await SSETestStream.open(
                relay.address, "/api/conversation/\(first)/stream?events=5",
                headers: [("Last-Event-ID", try #require(lastID))]
            ) { stream in
                (
                    stream.head.headers.first(name: "X-SSE-Relay"),
                    try await stream.readToEnd().filter { $0.data != nil }.count
                )
            }
            #expect(again.0 == "started")
            #expect(again.1 == 5)
            #expect(try await self.stats(relay, first).starts == 2)
        }
    }

    @Test("a finished stream ends with an end marker that any relay answers with 204, without a new start")
    func endMarker() async throws {
        try await withRelay(dedicatedBackend: true) { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=3"
            let blocks = try await SSETestStream.open(relay.address, path) { try await $0.readToEnd() }
            let last = try #require(blocks.last)
            #expect(last.data == nil)
            let marker = try #require(last.lastID)
            let lastEvent = try #require(blocks.last { $0.data != nil }?.lastID)
            #expect(marker == lastEvent + ".end")

            // Another relay in front of the same backend never saw the generation: a load
            // balancer moved the client, or this relay restarted.
            let other = try await RelayUnderTest.start(backend: relay.backend)
            let elsewhere = await Result {
                try await fetch(other.address, .GET, path, headers: [("Last-Event-ID", marker)])
            }
            await other.stop()
            #expect(try elsewhere.get().status == .noContent)
            #expect(
                try await fetch(relay.address, .GET, path, headers: [("Last-Event-ID", marker)]).status == .noContent)
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("an event over the parser's limit fails the generation cleanly; the relay serves on")
    func oversizedEvent() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let blocks = try await SSETestStream.open(
                relay.address, "/api/conversation/\(conversation)/stream?events=3&size=2000000&hold=1"
            ) { stream in
                #expect(stream.head.status == .ok)
                return try await stream.readToEnd()
            }
            // No event of the generation, only the failure event that says it failed.
            #expect(blocks.filter { $0.data != nil }.map(\.type) == [EventStreamWriter.failureEventName])
            // The upstream request was closed by the relay.
            var stats = try await self.stats(relay, conversation)
            for _ in 0..<2_000 where stats.aborted == 0 {
                stats = try await self.stats(relay, conversation)
            }
            #expect(stats.aborted == 1)
            #expect(try await fetch(relay.address, .GET, "/hello").text == "hello world")
        }
    }
}
