import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// Who may share a stream, and what of a request is shown, against the Node fixture.
///
/// Every case holds the first client's stream open (`hold=1`, and the first event read) while
/// the second request arrives, so the two truly overlap; upstream starts are the backend's own
/// count, never a matter of timing.
@Suite("Stream identity", .timeLimit(.minutes(2)))
struct StreamIdentityTests {
    private struct ConversationStats: Decodable {
        var starts: Int
        var lastEventIds: [String?]
        var urls: [String]
    }

    /// What a client saw of its stream: its mode, its generation, its head and first event.
    private struct Opened: Sendable {
        var mode: String?
        var generation: String
        var head: HTTPResponseHead
        var firstData: String?
    }

    private func stats(_ relay: RelayUnderTest, _ conversation: String) async throws -> ConversationStats {
        let response = try await fetch(relay.backendAddress, .GET, "/api/conversation/\(conversation)/stats")
        return try JSONDecoder().decode(ConversationStats.self, from: Data(response.body.readableBytesView))
    }

    private func newConversation() -> String { "c-\(UUID().uuidString.prefix(8).lowercased())" }

    private func read(_ stream: SSETestStream) async throws -> Opened {
        let priming = try #require(try await stream.nextBlock()?.lastID.flatMap(RelayEventID.init(parsing:)))
        let first = try await stream.nextEvent()
        return Opened(
            mode: stream.head.headers.first(name: "X-SSE-Relay"), generation: priming.generation, head: stream.head,
            firstData: first?.data)
    }

    /// Opens `path` with `first`'s headers, reads its first event, then (with it still open)
    /// opens `secondPath` with `second`'s headers and reads that one's first event.
    private func overlapping(
        _ relay: RelayUnderTest, _ path: String, first: [(String, String)], second: [(String, String)],
        secondPath: String? = nil
    ) async throws -> (first: Opened, second: Opened) {
        try await SSETestStream.open(relay.address, path, headers: first) { firstStream in
            let firstOpened = try await self.read(firstStream)
            let secondOpened = try await SSETestStream.open(relay.address, secondPath ?? path, headers: second) {
                try await self.read($0)
            }
            return (firstOpened, secondOpened)
        }
    }

    private func path(_ conversation: String, _ query: String = "") -> String {
        "/api/conversation/\(conversation)/stream?events=3&interval=10&hold=1\(query)"
    }

    // MARK: Credentials in any header

    @Test(
        "two clients of one conversation with different credentials get two upstream streams, each its own",
        arguments: ["X-API-Key", "Proxy-Authorization", "X-Auth-Token"])
    func differentCredentials(header: String) async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let (alice, bob) = try await self.overlapping(
                relay, self.path(conversation), first: [(header, "alice-key")], second: [(header, "bob-key")])
            #expect(alice.mode == "started")
            #expect(bob.mode == "started")
            #expect(alice.generation != bob.generation)
            #expect(alice.firstData == "token 1 of \(conversation)")
            #expect(bob.firstData == "token 1 of \(conversation)")
            #expect(try await self.stats(relay, conversation).starts == 2)
        }
    }

    @Test("two clients with the same credentials share one upstream stream")
    func sameCredentials() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let (first, second) = try await self.overlapping(
                relay, self.path(conversation), first: [("X-API-Key", "alice-key")],
                second: [("X-API-Key", "alice-key")])
            #expect(first.mode == "started")
            #expect(second.mode == "joined")
            #expect(first.generation == second.generation)
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("the starter receives the upstream's Set-Cookie; a client that joins does not")
    func setCookieStaysWithTheStarter() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let (starter, joiner) = try await self.overlapping(
                relay, self.path(conversation, "&cookie=1"), first: [("Cookie", "session=alice")],
                second: [("Cookie", "session=alice")])
            #expect(starter.mode == "started")
            #expect(joiner.mode == "joined")
            #expect(starter.head.headers["Set-Cookie"] == ["session=backend-secret"])
            #expect(joiner.head.headers["Set-Cookie"] == [])
            #expect(joiner.head.headers.first(name: "X-Conversation") == conversation)
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("another user's relay id as Last-Event-ID does not reach that user's stream: a new one starts")
    func foreignLastEventID() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let path = self.path(conversation)
            try await SSETestStream.open(relay.address, path, headers: [("X-API-Key", "alice-key")]) { aliceStream in
                let alice = try await self.read(aliceStream)
                let aliceID = "\(alice.generation)-1"
                let bob = try await SSETestStream.open(
                    relay.address, path, headers: [("X-API-Key", "bob-key"), ("Last-Event-ID", aliceID)]
                ) { try await self.read($0) }
                #expect(bob.mode == "started")
                #expect(bob.generation != alice.generation)
                #expect(bob.firstData == "token 1 of \(conversation)")
            }
            let stats = try await self.stats(relay, conversation)
            #expect(stats.starts == 2)
            // A relay id is never forwarded: the backend could not know it.
            #expect(stats.lastEventIds == [nil, nil])
        }
    }

    @Test("requests that differ only in X-Request-ID and traceparent share one upstream stream")
    func tracingHeadersDoNotSplit() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let (first, second) = try await self.overlapping(
                relay, self.path(conversation),
                first: [
                    ("X-Request-ID", "req-1"),
                    ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                ],
                second: [
                    ("X-Request-ID", "req-2"),
                    ("traceparent", "00-1bf7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01"),
                ])
            #expect(second.mode == "joined")
            #expect(first.generation == second.generation)
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    // MARK: Spellings of one stream

    @Test("path variants and a reordered query share one upstream stream; the backend sees the normalised path")
    func pathVariants() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let encoded = "%" + String(UInt8(ascii: "c"), radix: 16) + conversation.dropFirst()
            let starterPath = "/api/conversation/\(conversation)/../\(conversation)/stream?b=2&a=1&events=3&hold=1"
            let variants = [
                "/api/conversation/../conversation/\(conversation)/stream?b=2&a=1&events=3&hold=1",
                "//api/conversation/\(conversation)/stream?b=2&a=1&events=3&hold=1",
                "/api/conversation/\(encoded)/stream?b=2&a=1&events=3&hold=1",
                "/api/conversation/\(conversation)/stream?a=1&b=2&events=3&hold=1",
                "/api/conversation/\(conversation)/stream?hold=1&events=3&b=2&a=1",
            ]
            try await SSETestStream.open(relay.address, starterPath) { starterStream in
                let starter = try await self.read(starterStream)
                #expect(starter.mode == "started")
                for variant in variants {
                    let joined = try await SSETestStream.open(relay.address, variant) { try await self.read($0) }
                    #expect(joined.mode == "joined", "\(variant)")
                    #expect(joined.generation == starter.generation, "\(variant)")
                }
            }
            let stats = try await self.stats(relay, conversation)
            #expect(stats.starts == 1)
            #expect(stats.urls == ["/api/conversation/\(conversation)/stream?b=2&a=1&events=3&hold=1"])
        }
    }

    // MARK: Secrets in the query

    @Test("a token in the query never appears in /streams or the log; [redacted] does, and the key's headers are named")
    func queryTokenRedacted() async throws {
        let backend = try await BackendProcess.shared
        let relay = try RelayProcess(arguments: [
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(backend.port)",
            "--log-level", "info",
        ])
        defer { relay.stop() }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.listeningPort())
        let admin = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.adminPort())
        let conversation = self.newConversation()
        let secret = "SECRET-\(UUID().uuidString)"
        let path = self.path(conversation, "&token=\(secret)")

        let report = try await SSETestStream.open(address, path, headers: [("X-API-Key", "key-\(secret)")]) {
            stream in
            _ = try await self.read(stream)
            let response = try await fetch(admin, .GET, "/streams")
            return String(buffer: response.body)
        }
        #expect(report.contains(conversation))
        #expect(report.contains("token=[redacted]"))
        #expect(report.contains("\"key_headers\""))
        #expect(report.contains("x-api-key"))
        #expect(!report.contains(secret))

        // The access line is written when the stream's response ends.
        try await relay.waitForLog("token=[redacted]")
        let log = relay.logText
        #expect(log.contains(conversation))
        #expect(!log.contains(secret))
    }
}
