import Logging
import SSERelayCore
import Testing

@testable import SSERelay

/// ``PostgresStreamDirectory`` against a real PostgreSQL 15: the schema made idempotently and
/// by several relays at once, claims (won, held elsewhere, taken over after expiry, raced by
/// many relays), renewals, releases; every time from the database's clock.
@Suite("PostgresStreamDirectory", .needsThrowawayPostgres, .timeLimit(.minutes(2)))
struct PostgresStreamDirectoryTests {
    private static let one = ClusterMember(id: "member-one", peerAddress: "127.0.0.1:7001")
    private static let two = ClusterMember(id: "member-two", peerAddress: "127.0.0.1:7002")

    /// Runs `body` with a directory in a table of its own on the shared server, its client
    /// running meanwhile.
    private static func withDirectory(
        table: String = ThrowawayPostgres.uniqueTableName("directory"),
        _ body: (PostgresStreamDirectory, ThrowawayPostgres, String) async throws -> Void
    ) async throws {
        let server = try await ThrowawayPostgres.shared
        var configuration = ClusterDatabaseConfiguration(
            host: server.host, user: server.user, database: server.database)
        configuration.port = server.port
        configuration.tls = .disable
        configuration.table = table
        let directory = PostgresStreamDirectory(
            configuration: configuration, password: server.password,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { await directory.run() }
        defer { running.cancel() }
        try await directory.prepare()
        try await body(directory, server, table)
    }

    @Test("prepare makes the table and its indexes, and is idempotent, also when relays start together")
    func prepare() async throws {
        try await Self.withDirectory { directory, server, table in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await directory.prepare() } }
                try await group.waitForAll()
            }
            let indexes = try await server.psql(
                "SELECT indexname FROM pg_indexes WHERE tablename = '\(table)' ORDER BY indexname")
            #expect(indexes.split(separator: "\n") == ["\(table)_generation", "\(table)_owner", "\(table)_pkey"])
        }
    }

    @Test("a free key is won; held by another live relay, it names that relay; its holder wins it again")
    func claims() async throws {
        try await Self.withDirectory { directory, server, table in
            #expect(try await directory.claim("k", for: Self.one, leaseSeconds: 30) == .won(tookOver: false))
            #expect(try await directory.claim("k", for: Self.two, leaseSeconds: 30) == .owned(by: Self.one))
            #expect(try await directory.claim("k", for: Self.one, leaseSeconds: 30) == .won(tookOver: false))
            let row = try await server.psql(
                "SELECT owner, peer_address, state, lease_until > now() + interval '20 seconds' FROM \(table)")
            #expect(row == "member-one|127.0.0.1:7001|claimed|t")
        }
    }

    @Test("an expired lease is taken over, by the database's clock")
    func expiry() async throws {
        try await Self.withDirectory { directory, server, table in
            #expect(try await directory.claim("k", for: Self.one, leaseSeconds: 30) == .won(tookOver: false))
            // Expire it by the database's clock, without waiting.
            _ = try await server.psql("UPDATE \(table) SET lease_until = now() - interval '1 second'")
            #expect(try await directory.claim("k", for: Self.two, leaseSeconds: 30) == .won(tookOver: true))
            #expect(try await directory.claim("k", for: Self.one, leaseSeconds: 30) == .owned(by: Self.two))
            // The renewal of the first holder no longer finds it.
            let lease = DirectoryLease(key: "k", generation: "g1", state: .active)
            #expect(try await directory.renew([lease], for: Self.one, leaseSeconds: 30).isEmpty)
        }
    }

    @Test("of twelve relays claiming one free key at once, exactly one wins and the others name it")
    func race() async throws {
        try await Self.withDirectory { directory, _, _ in
            for round in 0..<5 {
                let members = (0..<12).map { ClusterMember(id: "m\($0)", peerAddress: "127.0.0.1:\(7100 + $0)") }
                let claims = try await withThrowingTaskGroup(of: (ClusterMember, DirectoryClaim).self) { group in
                    for member in members {
                        group.addTask {
                            (member, try await directory.claim("race\(round)", for: member, leaseSeconds: 30))
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let winners = claims.filter { $0.1 == .won(tookOver: false) }.map(\.0)
                #expect(winners.count == 1)
                guard let winner = winners.first else { continue }
                for (member, claim) in claims where member != winner {
                    #expect(claim == .owned(by: winner))
                }
            }
        }
    }

    @Test("a renewal extends only the relay's own leases, records their generations, and says which it renewed")
    func renew() async throws {
        try await Self.withDirectory { directory, server, table in
            _ = try await directory.claim("a", for: Self.one, leaseSeconds: 5)
            _ = try await directory.claim("b", for: Self.one, leaseSeconds: 5)
            _ = try await directory.claim("c", for: Self.two, leaseSeconds: 5)
            let renewed = try await directory.renew(
                [
                    DirectoryLease(key: "a", generation: "g-a", state: .active),
                    DirectoryLease(key: "b", generation: nil, state: .claimed),
                    DirectoryLease(key: "c", generation: "g-c", state: .finished),
                    DirectoryLease(key: "gone", generation: "g", state: .failed),
                ], for: Self.one, leaseSeconds: 60)
            #expect(renewed == ["a", "b"])
            let rows = try await server.psql(
                """
                SELECT stream_key, coalesce(generation, '-'), state, lease_until > now() + interval '30 seconds'
                FROM \(table) ORDER BY stream_key
                """)
            #expect(rows == "a|g-a|active|t\nb|-|claimed|t\nc|-|claimed|f")
            // Nothing to renew still asks the database.
            #expect(try await directory.renew([], for: Self.one, leaseSeconds: 60).isEmpty)
        }
    }

    @Test("releases remove only the relay's own rows; releaseAll removes all of them")
    func release() async throws {
        try await Self.withDirectory { directory, server, table in
            for key in ["a", "b", "c"] { _ = try await directory.claim(key, for: Self.one, leaseSeconds: 30) }
            _ = try await directory.claim("d", for: Self.two, leaseSeconds: 30)
            try await directory.release(["a", "d"], for: Self.one)
            #expect(try await server.psql("SELECT stream_key FROM \(table) ORDER BY 1") == "b\nc\nd")
            try await directory.releaseAll(for: Self.one)
            #expect(try await server.psql("SELECT stream_key FROM \(table) ORDER BY 1") == "d")
            #expect(try await directory.claim("a", for: Self.two, leaseSeconds: 30) == .won(tookOver: false))
        }
    }
}
