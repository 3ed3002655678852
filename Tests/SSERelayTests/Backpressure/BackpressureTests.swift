import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import SSERelay

/// A slow client slows only its own upstream read, and memory stays bounded: a pass-through client
/// that stops reading stops the relay reading its upstream response, and no one else.
@Suite("Backpressure", .timeLimit(.minutes(2)))
struct BackpressureTests {
    struct Progress: Decodable {
        var written: Int
        var waiting: Bool
        var aborted: Bool?
    }

    private func progress(_ relay: RelayUnderTest, id: String) async throws -> Progress? {
        let response = try await fetch(relay.backendAddress, .GET, "/progress/\(id)")
        return try JSONDecoder().decode(Progress?.self, from: Data(response.body.readableBytesView))
    }

    /// Polls the backend until `condition` holds for stream `id`; each poll is one request, so
    /// the loop is paced by real round trips and bounded in count.
    private func waitForProgress(
        _ relay: RelayUnderTest,
        id: String,
        until condition: (Progress) -> Bool
    ) async throws -> Progress {
        for _ in 0..<5_000 {
            if let progress = try await self.progress(relay, id: id), condition(progress) {
                return progress
            }
        }
        throw FixtureError("stream \(id) never reached the expected state")
    }

    @Test("a client that stops reading stops the upstream; others are served meanwhile")
    func slowClientStopsOnlyItsUpstream() async throws {
        try await withRelay { relay in
            let id = UUID().uuidString
            let gibibyte = 1 << 30
            try await RawTestConnection.withConnection(to: relay.address) { slow in
                try await slow.write("GET /bytes/\(gibibyte)?id=\(id) HTTP/1.1\r\nHost: a\r\n\r\n")
                let received = try await slow.discard(atLeast: 1 << 20)
                #expect(received >= 1 << 20)

                // The backend blocks on a full socket long before the gibibyte is written:
                // only socket buffers sit between it and the stalled client.
                let stalled = try await self.waitForProgress(relay, id: id) { $0.waiting }
                #expect(stalled.written < 128 << 20, "the relay buffered \(stalled.written) bytes")

                // Other requests through the same relay are unaffected.
                let other = try await fetch(relay.address, .GET, "/hello")
                #expect(other.text == "hello world")

                // Still stalled: nothing drained while the client was not reading.
                let later = try #require(try await self.progress(relay, id: id))
                #expect(later.written < 128 << 20)
            }
            // The client went away: the relay closes its upstream request.
            let aborted = try await self.waitForProgress(relay, id: id) { $0.aborted == true }
            #expect(aborted.written < gibibyte)
        }
    }
}
