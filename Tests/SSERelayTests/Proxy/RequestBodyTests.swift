import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// Request bodies that arrive slowly: a slow upload must not hold an upstream connection the
/// other requests need, nor hold its own exchange without bound.
@Suite("Request bodies", .timeLimit(.minutes(1)))
struct RequestBodyTests {
    /// Opens `count` connections that each send a POST head and half of a 10-byte body, runs
    /// `body` while they all wait, then sends the rest of each and returns their responses.
    private func withStalledUploads(
        _ count: Int, to address: SocketAddress, _ body: () async throws -> Void
    ) async throws -> [String] {
        guard count > 0 else {
            try await body()
            return []
        }
        return try await RawTestConnection.withConnection(to: address) { upload in
            try await upload.write("POST /upload HTTP/1.1\r\nHost: relay\r\nContent-Length: 10\r\n\r\n12345")
            var responses = try await self.withStalledUploads(count - 1, to: address, body)
            try await upload.write("67890")
            responses.append(try await upload.readResponse())
            return responses
        }
    }

    @Test("small bodies are read before an upstream connection is taken: stalled uploads starve nobody")
    func stalledUploadsHoldNoUpstreamConnection() async throws {
        try await withRelay(
            dedicatedBackend: true,
            {
                $0.upstream.maxConnections = 2
                // Long enough for a real connect on a busy machine (0.5 s once gave a GET 504
                // during a full run): it only bounds how long a GET would wait for the pool if
                // the uploads held it, and that GET's 503 fails the test all the same.
                $0.upstream.connectTimeoutSeconds = 10
            }
        ) { relay in
            let responses = try await self.withStalledUploads(6, to: relay.address) {
                // Six uploads wait for their bodies; were each holding an upstream connection,
                // a GET would find the pool of two busy and get 503.
                for _ in 0..<3 {
                    let hello = try await fetch(relay.address, .GET, "/hello")
                    #expect(hello.status == .ok)
                }
            }
            #expect(responses.count == 6)
            for response in responses {
                #expect(response.hasPrefix("HTTP/1.1 200"))
                #expect(response.contains("\"bytes\":10"))
            }
        }
    }

    @Test("a body that trickles past limits.requestBodyTimeoutSeconds gets 408, however steadily it comes")
    func wholeBodyDeadline() async throws {
        try await withRelay(
            dedicatedBackend: true,
            {
                $0.limits.requestBodyTimeoutSeconds = 0.5
                $0.limits.idleTimeoutSeconds = 30
            }
        ) { relay in
            var counter = try await BackendRequestCounter(relay: relay)
            let response = try await RawTestConnection.withConnection(to: relay.address) { upload in
                try await upload.write("POST /upload HTTP/1.1\r\nHost: relay\r\nContent-Length: 1000\r\n\r\nx")
                // One byte every 50 ms, never idle for idleTimeoutSeconds, for 1.5 s at most (the
                // relay answers at 0.5 s and then discards what still comes).
                for _ in 0..<30 {
                    try await Task.sleep(for: .milliseconds(50))
                    do { try await upload.write("x") } catch { break }
                }
                return try await upload.readResponse()
            }
            #expect(response.hasPrefix("HTTP/1.1 408"))
            #expect(response.contains("request body timeout"))
            let exposition = String(decoding: relay.server.metricsExposition(), as: UTF8.self)
            let hits = try PrometheusExposition(parsing: exposition).value(
                "sse_relay_limit_hits_total", ["limit": "limits.requestBodyTimeoutSeconds"])
            #expect(hits == 1)
            // The body never reached the backend: nothing was forwarded for it.
            #expect(try await counter.count() == 0)
        }
    }
}
