import NIOCore

@testable import SSERelay

/// Reads the relay's own metrics page.
struct RelayMetricsProbe {
    let relay: RelayUnderTest

    func value(_ name: String, _ labels: [String: String] = [:]) throws -> Double? {
        let exposition = String(decoding: self.relay.server.metricsExposition(), as: UTF8.self)
        return try PrometheusExposition(parsing: exposition).value(name, labels)
    }

    /// A metric of `metrics` alone, with no server behind it: the figures read at scrape time
    /// are zero.
    static func value(_ metrics: RelayMetrics, _ name: String, _ labels: [String: String] = [:]) throws -> Double? {
        let exposition = metrics.exposition(
            with: RelayMetrics.Readings(
                activeGenerations: 0, retainedGenerations: 0, replayBufferBytes: 0, clientConnections: 0,
                process: ProcessFigures.read()))
        return try PrometheusExposition(parsing: String(decoding: exposition, as: UTF8.self)).value(name, labels)
    }

    /// Polls until the metric equals `expected` (a missing sample counts as 0); bounded.
    func wait(
        _ name: String, _ labels: [String: String] = [:], toBe expected: Double, within seconds: Double = 10
    ) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var last: Double = -1
        while ContinuousClock.now < deadline {
            last = try self.value(name, labels) ?? 0
            if last == expected { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw FixtureError("\(name)\(labels) stayed \(last), expected \(expected)")
    }

    /// Stream clients and client connections back to zero: nothing leaked.
    func waitForNoClients() async throws {
        try await self.wait("sse_relay_stream_clients", toBe: 0)
        try await self.wait("sse_relay_client_connections", toBe: 0)
    }
}

/// Waits until `condition` holds, polling every 10 ms for at most `seconds`.
func waitUntil(
    _ what: String, within seconds: Double = 10, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw FixtureError("timed out waiting until \(what)")
}
