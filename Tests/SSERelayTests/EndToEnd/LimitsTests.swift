import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// The configured limits (`limits.*`): each refuses with a defined answer, is counted in
/// `sse_relay_limit_hits_total`, and leaves the relay serving.
@Suite("Limits", .timeLimit(.minutes(1)))
struct LimitsTests {
    private func conversation() -> String { "l-\(UUID().uuidString.prefix(8))" }

    private func limitHits(_ relay: RelayUnderTest, _ limit: RelayMetrics.Limit) throws -> Double? {
        let exposition = String(decoding: relay.server.metricsExposition(), as: UTF8.self)
        return try PrometheusExposition(parsing: exposition).value(
            "sse_relay_limit_hits_total", ["limit": limit.rawValue])
    }

    @Test(
        "limits.maxRequestBodyBytes: 413 by Content-Length before the upstream is asked, and mid-way for chunked bodies"
    )
    func requestBody() async throws {
        try await withRelay(dedicatedBackend: true, { $0.limits.maxRequestBodyBytes = 1000 }) { relay in
            var counter = try await BackendRequestCounter(relay: relay)
            let small = try await fetch(relay.address, .POST, "/upload", body: ByteBuffer(repeating: 1, count: 1000))
            #expect(small.status == .ok)

            let declared = try await fetch(relay.address, .POST, "/upload", body: ByteBuffer(repeating: 1, count: 1001))
            #expect(declared.status == .payloadTooLarge)
            #expect(declared.text == "request body too large\n")
            #expect(try await counter.count() == 1)  // the small upload only

            let chunked = try await fetch(
                relay.address, .POST, "/upload", body: ByteBuffer(repeating: 1, count: 5000), chunked: true)
            #expect(chunked.status == .payloadTooLarge)
            #expect(try self.limitHits(relay, .maxRequestBodyBytes) == 2)
            #expect(try await fetch(relay.address, .GET, "/hello").status == .ok)
        }
    }

    @Test("limits.maxGenerations: an ended generation makes room; when all are open the next start is refused")
    func generations() async throws {
        try await withRelay({
            $0.limits.maxGenerations = 2
            $0.streams[0].upstreamFailure = .status
        }) { relay in
            let ended = self.conversation()
            _ = try await SSETestStream.open(relay.address, "/api/conversation/\(ended)/stream?events=1") {
                try await $0.readToEnd()
            }
            let openPath = "/api/conversation/\(self.conversation())/stream?events=3&interval=10&hold=1"
            try await SSETestStream.open(relay.address, openPath) { first in
                _ = try await first.nextEvent()
                // The ended generation gives way to this one.
                let second = "/api/conversation/\(self.conversation())/stream?events=3&interval=10&hold=1"
                try await SSETestStream.open(relay.address, second) { stream in
                    #expect(stream.head.headers.first(name: "X-SSE-Relay") == "started")
                    _ = try await stream.nextEvent()
                    let refused = try await fetch(
                        relay.address, .GET, "/api/conversation/\(self.conversation())/stream")
                    #expect(refused.status == .serviceUnavailable)
                    #expect(refused.header("Retry-After") == "1")
                    // The client learns the relay is at capacity; which limit is the log's.
                    #expect(refused.text == "refused: the relay is at capacity\n")
                }
            }
            #expect(try self.limitHits(relay, .maxGenerations) == 2)
            #expect(relay.server.streams.all.count <= 2)
        }
    }

    @Test("limits.maxClientsPerGeneration: one client too many gets a retry stream that says why")
    func clientsPerGeneration() async throws {
        try await withRelay({ $0.limits.maxClientsPerGeneration = 2 }) { relay in
            let path = "/api/conversation/\(self.conversation())/stream?events=3&interval=10&hold=1"
            try await withStreams(relay.address, path, [[], []]) { streams in
                for stream in streams { _ = try await stream.nextEvent() }
                let refused = try await SSETestStream.open(relay.address, path) { stream in
                    #expect(stream.head.status == .ok)
                    #expect(stream.head.headers.first(name: "Content-Type") == "text/event-stream")
                    let blocks = try await stream.readToEnd()
                    #expect(blocks.first?.retry == 2000)
                    return stream.comments
                }
                #expect(refused == [": refused: the relay is at capacity"])
            }
            #expect(try self.limitHits(relay, .maxClientsPerGeneration) == 1)
        }
    }

    @Test("limits.maxHeaderCount: a head with more fields gets 431")
    func headerCount() async throws {
        try await withRelay({ $0.limits.maxHeaderCount = 10 }) { relay in
            let fine = try await fetch(relay.address, .GET, "/hello", headers: (0..<8).map { ("X-H\($0)", "v") })
            #expect(fine.status == .ok)
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                let fields = (0..<20).map { "X-H\($0): v\r\n" }.joined()
                try await connection.write("GET /hello HTTP/1.1\r\nHost: a\r\n\(fields)\r\n")
                let answer = try await connection.readToEnd()
                #expect(answer.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
            }
            #expect(try self.limitHits(relay, .maxHeaderBytes) == 1)
        }
    }
}
