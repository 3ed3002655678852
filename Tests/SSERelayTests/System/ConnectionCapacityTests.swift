import SSERelayCore
import Testing

@testable import SSERelay

/// The connection budgets derived from the open-files limit: a pure function, checked without
/// touching the process's limits.
@Suite("ConnectionCapacity")
struct ConnectionCapacityTests {
    /// One row: the inputs, then reserve, clients, pool and streams.
    struct Row: Sendable, CustomTestStringConvertible {
        var limit: Int
        var clients: Int?
        var pool: Int?
        var expected: (reserve: Int, clients: Int, pool: Int, streams: Int)
        var overcommitted = false

        var testDescription: String {
            "nofile \(self.limit), maxConnections \(self.clients.map(String.init) ?? "derived"), "
                + "upstream.maxConnections \(self.pool.map(String.init) ?? "derived")"
        }
    }

    @Test(
        "budgets by descriptor limit and configured values",
        arguments: [
            // This machine's hard limit: 400 reserved (2 %), half of the rest for clients, the
            // other half a quarter pool and three quarters streams.
            Row(limit: 20_000, clients: nil, pool: nil, expected: (400, 9_800, 2_450, 7_350)),
            // A common service limit, and the usual default soft limit.
            Row(limit: 65_536, clients: nil, pool: nil, expected: (1_310, 32_113, 8_028, 24_085)),
            Row(limit: 4_096, clients: nil, pool: nil, expected: (81, 2_007, 502, 1_506)),
            Row(limit: 1_024, clients: nil, pool: nil, expected: (64, 480, 120, 360)),
            // Small limits: the reserve is at least 64 descriptors, at most half of them.
            Row(limit: 256, clients: nil, pool: nil, expected: (64, 96, 24, 72)),
            Row(limit: 16, clients: nil, pool: nil, expected: (8, 4, 1, 3)),
            Row(limit: 2, clients: nil, pool: nil, expected: (1, 1, 1, 1), overcommitted: true),
            Row(limit: 0, clients: nil, pool: nil, expected: (1, 1, 1, 1), overcommitted: true),
            // Explicit values are kept; the other budgets take what is left.
            Row(limit: 20_000, clients: 1_000, pool: nil, expected: (400, 1_000, 4_650, 13_950)),
            Row(limit: 20_000, clients: nil, pool: 64, expected: (400, 9_800, 64, 9_736)),
            Row(limit: 20_000, clients: 5_000, pool: 1_024, expected: (400, 5_000, 1_024, 13_576)),
            // Overcommitting explicit values (the old defaults, the benchmark's pool): streams
            // keep half of the upstream share, which keeps at least a quarter of the descriptors.
            Row(
                limit: 20_000, clients: 50_000, pool: 1_024, expected: (400, 50_000, 1_024, 3_876),
                overcommitted: true),
            Row(
                limit: 20_000, clients: nil, pool: 20_000, expected: (400, 9_800, 20_000, 4_900),
                overcommitted: true),
            Row(limit: 4_096, clients: 50_000, pool: nil, expected: (81, 50_000, 250, 753), overcommitted: true),
        ])
    func derivation(row: Row) {
        let capacity = ConnectionCapacity(
            descriptorLimit: row.limit, maxConnections: row.clients, upstreamMaxConnections: row.pool)
        #expect(capacity.reserve == row.expected.reserve)
        #expect(capacity.clientConnections == row.expected.clients)
        #expect(capacity.pooledUpstreamConnections == row.expected.pool)
        #expect(capacity.streamUpstreamConnections == row.expected.streams)
        #expect(capacity.clientConnectionsDerived == (row.clients == nil))
        #expect(capacity.pooledUpstreamConnectionsDerived == (row.pool == nil))
        #expect(capacity.isOvercommitted == row.overcommitted)
    }

    @Test("derived budgets always fit in the descriptors left after the reserve")
    func derivedBudgetsFit() {
        for limit in [7, 64, 65, 100, 128, 129, 1_000, 3_199, 3_200, 3_201, 50_000, 1_048_576] {
            let capacity = ConnectionCapacity(descriptorLimit: limit, maxConnections: nil, upstreamMaxConnections: nil)
            #expect(!capacity.isOvercommitted, "nofile \(limit)")
            #expect(capacity.clientConnections >= 1 && capacity.streamUpstreamConnections >= 1)
        }
    }

    @Test("an unlimited descriptor limit derives values the configuration accepts")
    func unlimited() {
        let capacity = ConnectionCapacity(descriptorLimit: Int.max, maxConnections: nil, upstreamMaxConnections: nil)
        #expect(capacity.clientConnections <= 10_000_000)
        #expect(capacity.clientConnections > 1_000_000)
    }

    @Test("the configuration's keys feed the derivation")
    func fromConfiguration() {
        var configuration = RelayConfiguration()
        configuration.limits.maxConnections = 100
        let capacity = ConnectionCapacity(descriptorLimit: 20_000, configuration: configuration)
        #expect(capacity.clientConnections == 100)
        #expect(capacity.pooledUpstreamConnectionsDerived)
    }

    @Test("the limits are split among event loops, the remainder to the first, at least one each")
    func perLoopShares() {
        #expect((0..<2).map { UpstreamPools.share(7_350, among: 2, index: $0) } == [3_675, 3_675])
        #expect((0..<3).map { UpstreamPools.share(7, among: 3, index: $0) } == [3, 2, 2])
        #expect((0..<4).map { UpstreamPools.share(1, among: 4, index: $0) } == [1, 1, 1, 1])
    }

    @Test("the process's limit reads, and the soft limit never exceeds the hard one")
    func currentLimit() throws {
        let limit = try #require(DescriptorLimit.current())
        #expect(limit.soft <= limit.hard)
        #expect(limit.soft > 0)
    }
}
