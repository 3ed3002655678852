import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import SSERelayCore

/// The directory as one PostgreSQL table (`cluster.database.table`), through postgres-nio's
/// pooled `PostgresClient`.
///
/// ```sql
/// stream_key   text PRIMARY KEY   -- StreamKey.directoryID
/// owner        text NOT NULL      -- ClusterMember.id
/// peer_address text NOT NULL      -- where the owner's peer listener is reached
/// generation   text               -- the owner's newest generation of the key, once started
/// state        text NOT NULL      -- claimed, active, finished, failed
/// lease_until  timestamptz NOT NULL
/// claimed_at   timestamptz NOT NULL
/// ```
///
/// One index per lookup: the primary key for claims, renewals and releases by key, `owner` for
/// the release of everything a stopping relay held, `generation` for finding a generation's
/// owner by hand. Every time is the database's `now()`, never a relay's clock, so clock skew
/// between hosts cannot let two relays hold one key.
final class PostgresStreamDirectory: StreamDirectory {
    let client: PostgresClient
    private let table: String
    private let logger: Logger

    /// How often a claim that raced another relay's first claim of the same key is tried again
    /// (see ``claim(_:for:leaseSeconds:)``).
    private static let claimAttempts = 3

    /// - Parameter password: read from `passwordFile` or `passwordEnv` by the caller; never
    ///   logged.
    init(configuration: ClusterDatabaseConfiguration, password: String?, logger: Logger) {
        let tls: PostgresClient.Configuration.TLS
        switch configuration.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var clientConfiguration = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.user, password: password,
            database: configuration.database, tls: tls)
        clientConfiguration.options.connectTimeout = .seconds(2)
        // Claims come in bursts when many conversations start at once; a handful of
        // connections carries them, since each is one short statement.
        clientConfiguration.options.maximumConnections = 8
        clientConfiguration.options.minimumConnections = 1
        self.client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        self.table = configuration.table
        self.logger = logger
    }

    /// Runs the client's connection pool until the task is cancelled; nothing reaches the
    /// database before it runs.
    func run() async {
        await self.client.run()
    }

    func prepare() async throws {
        let table = self.table
        try await self.client.withTransaction(logger: self.logger) { connection in
            // Relays that start together would race in CREATE TABLE IF NOT EXISTS, which is
            // not safe against itself; a transaction-scoped advisory lock orders them.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtext(\("sse-relay directory " + table)))", logger: self.logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS \(unescaped: table) (
                    stream_key   text PRIMARY KEY,
                    owner        text NOT NULL,
                    peer_address text NOT NULL,
                    generation   text,
                    state        text NOT NULL,
                    lease_until  timestamptz NOT NULL,
                    claimed_at   timestamptz NOT NULL
                )
                """, logger: self.logger)
            try await connection.query(
                "CREATE INDEX IF NOT EXISTS \(unescaped: table)_owner ON \(unescaped: table) (owner)",
                logger: self.logger)
            try await connection.query(
                """
                CREATE INDEX IF NOT EXISTS \(unescaped: table)_generation ON \(unescaped: table) (generation)
                WHERE generation IS NOT NULL
                """, logger: self.logger)
            // Rows of relays that died and whose keys nobody asked for since: claimable anyway,
            // removed so the table does not grow with every crash.
            try await connection.query(
                "DELETE FROM \(unescaped: table) WHERE lease_until < now() - interval '1 day'", logger: self.logger)
        }
    }

    /// One statement: insert the key, or take it over when its lease expired or is already
    /// this relay's; otherwise read who holds it.
    ///
    /// Two relays that claim a key nobody held at the same moment both insert; PostgreSQL makes
    /// the second wait for the first and then finds the conflict, but the second's statement
    /// reads the table as it was when it began, without the first's row, and so returns
    /// nothing. The claim is then tried again, and the next statement sees the winner.
    func claim(_ key: String, for member: ClusterMember, leaseSeconds: Double) async throws -> DirectoryClaim {
        for _ in 0..<Self.claimAttempts {
            let rows = try await self.client.query(
                """
                WITH previous AS (
                    SELECT owner FROM \(unescaped: self.table) WHERE stream_key = \(key)
                ), claimed AS (
                    INSERT INTO \(unescaped: self.table) AS d
                        (stream_key, owner, peer_address, state, lease_until, claimed_at)
                    VALUES (\(key), \(member.id), \(member.peerAddress), 'claimed',
                        now() + \(leaseSeconds) * interval '1 second', now())
                    ON CONFLICT (stream_key) DO UPDATE SET
                        owner = excluded.owner,
                        peer_address = excluded.peer_address,
                        lease_until = excluded.lease_until,
                        generation = CASE WHEN d.owner = excluded.owner THEN d.generation END,
                        state = CASE WHEN d.owner = excluded.owner THEN d.state ELSE 'claimed' END,
                        claimed_at = CASE WHEN d.owner = excluded.owner THEN d.claimed_at ELSE now() END
                    WHERE d.owner = excluded.owner OR d.lease_until < now()
                    RETURNING d.owner, d.peer_address
                )
                SELECT true, owner, peer_address, coalesce((SELECT owner FROM previous) <> \(member.id), false)
                FROM claimed
                UNION ALL
                SELECT false, owner, peer_address, false FROM \(unescaped: self.table)
                WHERE stream_key = \(key) AND NOT EXISTS (SELECT 1 FROM claimed)
                """, logger: self.logger)
            for try await (won, owner, peerAddress, tookOver) in rows.decode((Bool, String, String, Bool).self) {
                return won ? .won(tookOver: tookOver) : .owned(by: ClusterMember(id: owner, peerAddress: peerAddress))
            }
        }
        throw DirectoryError.claimUndecided(attempts: Self.claimAttempts)
    }

    func renew(_ leases: [DirectoryLease], for member: ClusterMember, leaseSeconds: Double) async throws -> Set<String>
    {
        guard !leases.isEmpty else {
            // Nothing to renew; the statement still tells whether the database answers, which
            // is how a relay that lost it learns that it is back.
            try await self.client.query("SELECT 1", logger: self.logger)
            return []
        }
        let rows = try await self.client.query(
            """
            UPDATE \(unescaped: self.table) AS d SET
                lease_until = now() + \(leaseSeconds) * interval '1 second',
                generation = coalesce(nullif(u.generation, ''), d.generation),
                state = u.state
            FROM unnest(\(leases.map(\.key))::text[], \(leases.map { $0.generation ?? "" })::text[],
                \(leases.map(\.state.rawValue))::text[]) AS u(stream_key, generation, state)
            WHERE d.stream_key = u.stream_key AND d.owner = \(member.id)
            RETURNING d.stream_key
            """, logger: self.logger)
        var renewed: Set<String> = []
        for try await key in rows.decode(String.self) {
            renewed.insert(key)
        }
        return renewed
    }

    func release(_ keys: [String], for member: ClusterMember) async throws {
        guard !keys.isEmpty else { return }
        try await self.client.query(
            "DELETE FROM \(unescaped: self.table) WHERE owner = \(member.id) AND stream_key = ANY(\(keys)::text[])",
            logger: self.logger)
    }

    func releaseAll(for member: ClusterMember) async throws {
        try await self.client.query(
            "DELETE FROM \(unescaped: self.table) WHERE owner = \(member.id)", logger: self.logger)
    }
}

/// A directory answer that makes no sense, as opposed to a database that cannot be reached.
enum DirectoryError: Error, CustomStringConvertible {
    /// Every attempt at a claim raced another relay's first claim of the key.
    case claimUndecided(attempts: Int)

    var description: String {
        switch self {
        case .claimUndecided(let attempts):
            "a claim found neither the key free nor its holder in \(attempts) attempts"
        }
    }
}
