import Foundation
import NIOCore
import NIOHTTP1

/// Counts the requests a dedicated backend receives, to wait until requests sent through the
/// relay have arrived. Each `/stats` request the counter makes is counted by the backend too,
/// and subtracted.
struct BackendRequestCounter {
    private struct Stats: Decodable { var requests: Int }

    let relay: RelayUnderTest
    private var baseline = 0
    private var ownRequests = 0

    /// Starts counting from now.
    init(relay: RelayUnderTest) async throws {
        self.relay = relay
        self.baseline = try await self.total()
    }

    /// Waits until `expected` requests other than the counter's own arrived since it started.
    mutating func wait(forRequests expected: Int) async throws {
        for _ in 0..<2_000 {
            let total = try await self.total()
            self.ownRequests += 1
            if total - self.baseline - self.ownRequests >= expected {
                return
            }
        }
        throw FixtureError("the backend never received \(expected) request(s)")
    }

    /// The requests other than the counter's own that arrived since it started.
    mutating func count() async throws -> Int {
        let total = try await self.total()
        self.ownRequests += 1
        return total - self.baseline - self.ownRequests
    }

    private func total() async throws -> Int {
        let response = try await fetch(self.relay.backendAddress, .GET, "/stats")
        return try JSONDecoder().decode(Stats.self, from: Data(response.body.readableBytesView)).requests
    }
}
