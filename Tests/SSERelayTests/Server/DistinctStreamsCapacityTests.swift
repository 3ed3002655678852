import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import SSERelay

/// Thousands of distinct conversations at once on the default configuration: each stream
/// holds a dedicated upstream connection, so they are bounded by the descriptor budget, not by
/// the keep-alive pool (which once made every stream past the 1,024th loop on
/// `: upstream unavailable`).
///
/// The clients run in Node (`Fixtures/distinct-streams.js`); the relay and a backend of its own
/// (to count its connections) are real processes. Each of the three needs about 3,000
/// descriptors, so this test process raises its soft limit to the hard one first, which its
/// children inherit, and the suite runs only where the hard limit allows it.
@Suite(
    "Distinct streams capacity", .timeLimit(.minutes(1)),
    .enabled(if: (DescriptorLimit.current()?.hard ?? 0) >= 8192, "needs an open-files hard limit of 8,192"),
    .disabled(if: Sanitizers.isActive, Sanitizers.loadTestReason))
struct DistinctStreamsCapacityTests {
    static let streams = 3000

    @Test("3,000 concurrent distinct streams all start on the default configuration")
    func distinctStreams() async throws {
        _ = DescriptorLimit.raiseSoftLimitToHard()
        let backend = try await BackendProcess.start()
        defer { backend.stop() }
        let relay = try RelayProcess(arguments: [
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(backend.port)",
            "--log-level", "info",
        ])
        defer { relay.stop() }
        let port = try await relay.listeningPort()
        #expect(relay.logText.contains(#""msg":"connection capacity""#))

        let outcome = try await Self.runClients(port: port, count: Self.streams, timeoutSeconds: 30)
        #expect(outcome.firstEvents == Self.streams, "\(outcome)")
        #expect(outcome.unavailable == 0)
        #expect(outcome.errors == 0)

        // One upstream request, on a connection of its own, per conversation.
        let backendAddress = try SocketAddress(ipAddress: "127.0.0.1", port: backend.port)
        let stats = try await fetch(backendAddress, .GET, "/stats")
        struct Stats: Decodable { var connections: Int, requests: Int }
        let counted = try JSONDecoder().decode(Stats.self, from: Data(String(buffer: stats.body).utf8))
        // This /stats request counts as one more of each.
        #expect(counted.requests == Self.streams + 1)
        #expect(counted.connections == Self.streams + 1)
        #expect(!relay.logText.contains("upstream unavailable"))
    }

    struct Outcome: Decodable, Sendable {
        var clients: Int
        var firstEvents: Int
        var unavailable: Int
        var errors: Int
        var seconds: Double
    }

    /// Runs the Node clients until every stream began or `timeoutSeconds` passed; the script
    /// exits after its report, closing every connection.
    static func runClients(port: Int, count: Int, timeoutSeconds: Int) async throws -> Outcome {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/distinct-streams.js")
        let prefix = "cap-\(UUID().uuidString.prefix(8))"
        // Blocking reads, so on a Dispatch queue rather than the test's cooperative pool.
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                        process.arguments = [
                            "node", script.path, String(port), String(count), prefix, String(timeoutSeconds),
                        ]
                        let output = Pipe()
                        process.standardOutput = output
                        try process.run()
                        // Bounded: the script reports and exits within its timeout.
                        let data = output.fileHandleForReading.readDataToEndOfFile()
                        process.waitUntilExit()
                        guard let line = data.split(separator: UInt8(ascii: "\n")).first else {
                            throw FixtureError("distinct-streams.js reported nothing")
                        }
                        return try JSONDecoder().decode(Outcome.self, from: Data(line))
                    })
            }
        }
    }
}
