import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// Who shares a stream: requests with different credentials never do, not even with a relay id
/// of another user's stream.
extension StreamEngineTests {
    /// Has the backend write the next `events` events (all that are left by default) of each
    /// `gate=1` stream of `conversation`; returns how many streams it released.
    private func release(_ relay: RelayUnderTest, _ conversation: String, events: Int? = nil) async throws -> Int {
        struct Released: Decodable { var streams: Int }
        let query = events.map { "?events=\($0)" } ?? ""
        let response = try await fetch(relay.backendAddress, .POST, "/api/conversation/\(conversation)/release\(query)")
        return try JSONDecoder().decode(Released.self, from: Data(response.body.readableBytesView)).streams
    }

    /// What a client saw of its stream: the mode, the generation and the data of every event.
    private struct Transcript: Equatable {
        var mode: String?
        var generation: String
        var data: [String]
    }

    /// Reads the priming block, then `events` events (all, to the end, when `nil`).
    private func transcript(_ stream: SSETestStream, events: Int? = nil) async throws -> Transcript {
        let priming = try #require(try await stream.nextBlock()?.lastID.flatMap(RelayEventID.init(parsing:)))
        var data: [String] = []
        while events.map({ data.count < $0 }) ?? true, let event = try await stream.nextEvent() {
            data.append(event.data ?? "")
        }
        return Transcript(
            mode: stream.head.headers.first(name: "X-SSE-Relay"), generation: priming.generation, data: data)
    }

    @Test("different credentials never share a stream; the same credentials do")
    func varyHeaders() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            // `gate=1`: the upstream answers at once but writes no event until released, so all
            // three streams are open together, and who shares with whom is not a matter of timing.
            let path = "/api/conversation/\(conversation)/stream?events=3&gate=1&whom=1"
            let alice = [("Authorization", "Bearer alice")]
            let bob = [("Authorization", "Bearer bob")]
            let (first, second, third) = try await withStreams(relay.address, path, [alice, bob, alice]) { streams in
                // withStreams opens them in order, each after the previous one's head arrived.
                #expect(streams.map { $0.head.headers.first(name: "X-SSE-Relay") } == ["started", "started", "joined"])
                #expect(try await self.release(relay, conversation) == 2)
                return (
                    try await self.transcript(streams[0]), try await self.transcript(streams[1]),
                    try await self.transcript(streams[2])
                )
            }
            #expect(first.data == (1...3).map { "token \($0) of \(conversation) for Bearer alice" })
            #expect(second.data == (1...3).map { "token \($0) of \(conversation) for Bearer bob" })
            #expect(third == Transcript(mode: "joined", generation: first.generation, data: first.data))
            #expect(second.generation != first.generation)
            let stats = try await self.stats(relay, conversation)
            #expect(stats.starts == 2)
            #expect(stats.authorizations == ["Bearer alice", "Bearer bob"])
        }
    }

    @Test(
        "bob resuming with alice's relay id joins his own stream from its start: a replay miss, none of alice's events")
    func foreignRelayIDJoinsOwnStream() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=4&gate=1&whom=1"
            let alice = [("Authorization", "Bearer alice")]
            let bob = [("Authorization", "Bearer bob")]
            let metrics = RelayMetricsProbe(relay: relay)
            try await withStreams(relay.address, path, [alice, bob]) { streams in
                #expect(try await self.release(relay, conversation, events: 2) == 2)
                let aliceSoFar = try await self.transcript(streams[0], events: 2)
                let bobSoFar = try await self.transcript(streams[1], events: 2)
                #expect(aliceSoFar.data == (1...2).map { "token \($0) of \(conversation) for Bearer alice" })
                // alice's last event id names her generation, which bob's key does not hold: the
                // id is a replay miss for him. His key has an open generation, so he joins it
                // where a client without an id would (joinFrom: start), and no second upstream
                // request starts for his key.
                let aliceID = "\(aliceSoFar.generation)-2"
                let resumed = try await SSETestStream.open(
                    relay.address, path, headers: bob + [("Last-Event-ID", aliceID)]
                ) { stream in
                    #expect(try await self.release(relay, conversation) == 2)
                    return try await self.transcript(stream)
                }
                #expect(resumed.mode == "joined")
                #expect(resumed.generation == bobSoFar.generation)
                #expect(resumed.data == (1...4).map { "token \($0) of \(conversation) for Bearer bob" })
                #expect(try metrics.value("sse_relay_stream_requests_total", ["outcome": "replay_miss"]) == 1)
                #expect(try metrics.value("sse_relay_stream_requests_total", ["outcome": "resumed"]) ?? 0 == 0)
            }
            let stats = try await self.stats(relay, conversation)
            #expect(stats.starts == 2)
            // A relay id is never forwarded: the backend could not know it.
            #expect(stats.lastEventIds == [nil, nil])
        }
    }
}
