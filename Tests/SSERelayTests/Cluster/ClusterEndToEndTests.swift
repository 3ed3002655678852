import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// Relays sharing a directory on a real PostgreSQL, in front of the Node fixture: a
/// conversation's clients on different relays share one upstream start, a reconnect through
/// any relay resumes at the one that holds the stream, the peer listener lets only relays in,
/// and a relay that stops gives its keys up.
@Suite("Cluster end to end", .needsThrowawayPostgres, .timeLimit(.minutes(2)))
struct ClusterEndToEndTests {
    private static let secret = "cluster-test-secret-0123456789"

    /// Relays in a cluster of their own (a table of their own on `server`, the shared server
    /// unless given).
    private struct Cluster {
        let relays: [RelayUnderTest]
        let table: String
        let server: ThrowawayPostgres
        // Held for the relays' lives: they read these at start.
        let files: [TemporaryFile]

        func stop() async {
            for relay in self.relays { await relay.stop() }
        }
    }

    /// - Parameter directoryTimeout: `cluster.directoryTimeoutSeconds`. Long by default: the
    ///   suite runs beside hundreds of tests on two cores, ten times slower under a sanitizer,
    ///   and a claim that timed out would make the relay serve degraded, which only the test of
    ///   degraded mode wants.
    private func withCluster<Result>(
        relays count: Int, server: ThrowawayPostgres? = nil, directoryTimeout: Double = 60,
        _ body: (Cluster) async throws -> Result
    ) async throws -> Result {
        let server = try await { () async throws -> ThrowawayPostgres in
            if let server { return server }
            return try await ThrowawayPostgres.shared
        }()
        let backend = try await BackendProcess.shared
        let secretFile = try TemporaryFile(Self.secret)
        let passwordFile = try TemporaryFile(server.password)
        let table = ThrowawayPostgres.uniqueTableName("cluster")
        var relays: [RelayUnderTest] = []
        do {
            for _ in 0..<count {
                relays.append(
                    try await RelayUnderTest.start(backend: backend) { configuration in
                        var database = ClusterDatabaseConfiguration(
                            host: server.host, user: server.user, database: server.database)
                        database.port = server.port
                        database.tls = .disable
                        database.table = table
                        database.passwordFile = passwordFile.path
                        // A stopping relay keeps its peer listener open for a client's retry
                        // time after its last connection; a short one keeps the tests short.
                        configuration.streams[0].retryMs = 200
                        var cluster = ClusterConfiguration(
                            database: database,
                            peer: ClusterPeerConfiguration(
                                listen: HostAndPort(host: "127.0.0.1", port: 0), secretFile: secretFile.path))
                        cluster.directoryTimeoutSeconds = directoryTimeout
                        configuration.cluster = cluster
                    })
            }
        } catch {
            for relay in relays { await relay.stop() }
            throw error
        }
        let cluster = Cluster(relays: relays, table: table, server: server, files: [secretFile, passwordFile])
        do {
            let result = try await body(cluster)
            await cluster.stop()
            return result
        } catch {
            await cluster.stop()
            throw error
        }
    }

    private func newConversation() -> String {
        "cluster-\(UInt64.random(in: 0...UInt64.max))"
    }

    private func release(_ backend: BackendProcess, _ conversation: String) async throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: backend.port)
        _ = try await fetch(address, .POST, "/api/conversation/\(conversation)/release")
    }

    private func starts(_ backend: BackendProcess, _ conversation: String) async throws -> Int {
        struct Stats: Decodable { var starts: Int }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: backend.port)
        let response = try await fetch(address, .GET, "/api/conversation/\(conversation)/stats")
        return try JSONDecoder().decode(Stats.self, from: Data(response.body.readableBytesView)).starts
    }

    private func peerAddress(_ relay: RelayUnderTest) throws -> SocketAddress {
        try #require(relay.server.cluster?.peerAddress)
    }

    @Test("clients of one conversation on two relays share one upstream start, the second forwarded to the first")
    func sharedStart() async throws {
        try await withCluster(relays: 2) { cluster in
            let backend = try await BackendProcess.shared
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=4&gate=1"
            let (first, second) = try await SSETestStream.open(cluster.relays[0].address, path) { first in
                try await SSETestStream.open(cluster.relays[1].address, path) { second in
                    #expect(first.head.headers.first(name: "X-SSE-Relay") == "started")
                    #expect(second.head.headers.first(name: "X-SSE-Relay") == "joined")
                    // Two relays on the way: the owner's and the forwarder's.
                    #expect(second.head.headers.first(name: "Via") == "1.1 sse-relay, 1.1 sse-relay")
                    try await self.release(backend, conversation)
                    return (try await first.readToEnd(), try await second.readToEnd())
                }
            }
            #expect(first.compactMap(\.data) == (1...4).map { "token \($0) of \(conversation)" })
            #expect(second.compactMap(\.data) == first.compactMap(\.data))
            #expect(second.map(\.lastID) == first.map(\.lastID))
            #expect(try await self.starts(backend, conversation) == 1)
        }
    }

    @Test("a reconnect with Last-Event-ID through another relay resumes at the relay that holds the stream")
    func resumeElsewhere() async throws {
        try await withCluster(relays: 2) { cluster in
            let backend = try await BackendProcess.shared
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=4&gate=1"
            let all = try await SSETestStream.open(cluster.relays[0].address, path) { stream in
                try await self.release(backend, conversation)
                return try await stream.readToEnd()
            }
            let second = try #require(all.first { $0.data == "token 2 of \(conversation)" }?.lastID)
            let rest = try await SSETestStream.open(
                cluster.relays[1].address, path, headers: [("Last-Event-ID", second)]
            ) { stream in
                #expect(stream.head.headers.first(name: "X-SSE-Relay") == "resumed")
                return try await stream.readToEnd()
            }
            #expect(rest.compactMap(\.data) == ["token 3 of \(conversation)", "token 4 of \(conversation)"])
            #expect(try await self.starts(backend, conversation) == 1)
            // The end marker gets 204 through either relay.
            let end = try #require(all.last?.lastID)
            for relay in cluster.relays {
                let response = try await fetch(relay.address, .GET, path, headers: [("Last-Event-ID", end)])
                #expect(response.head.status == .noContent)
            }
        }
    }

    @Test("the peer listener refuses a request without the secret and serves stream requests only")
    func peerListener() async throws {
        try await withCluster(relays: 1) { cluster in
            let peer = try self.peerAddress(cluster.relays[0])
            let path = "/api/conversation/\(self.newConversation())/stream?events=1"
            #expect(try await fetch(peer, .GET, path).head.status == .forbidden)
            let wrong = [(PeerCredentials.secretHeader, String(Self.secret.reversed()))]
            #expect(try await fetch(peer, .GET, path, headers: wrong).head.status == .forbidden)
            let twice = [(PeerCredentials.secretHeader, Self.secret), (PeerCredentials.secretHeader, Self.secret)]
            #expect(try await fetch(peer, .GET, path, headers: twice).head.status == .forbidden)
            let right = [(PeerCredentials.secretHeader, Self.secret)]
            #expect(try await fetch(peer, .GET, "/hello", headers: right).head.status == .notFound)
            let served = try await fetch(peer, .GET, path, headers: right)
            #expect(served.head.status == .ok)
            #expect(served.head.headers.first(name: "X-SSE-Relay") == "started")
        }
    }

    @Test("the directory records the holder and its generation; a relay that stops releases its keys")
    func directoryRows() async throws {
        try await withCluster(relays: 2) { cluster in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=2"
            let events = try await SSETestStream.open(cluster.relays[0].address, path) { try await $0.readToEnd() }
            let generation = try #require(events.first?.lastID.flatMap(RelayEventID.init(parsing:))?.generation)
            let peer = try #require(cluster.relays[0].server.cluster?.node.member.peerAddress)
            #expect(
                try await cluster.server.psql("SELECT peer_address FROM \(cluster.table)") == peer)
            // The generation is recorded at the next renewal.
            await cluster.relays[0].server.cluster?.node.renew(
                cluster.relays[0].server.streams.newestGenerations().map(DirectoryLease.init(newestOf:)))
            #expect(
                try await cluster.server.psql("SELECT generation, state FROM \(cluster.table)")
                    == "\(generation)|finished")
            await cluster.relays[0].stop()
            #expect(try await cluster.server.psql("SELECT count(*) FROM \(cluster.table)") == "0")
        }
    }

    @Test("with the database gone a relay serves as a single node, without waiting once it knows")
    func degraded() async throws {
        let server = try await ThrowawayPostgres.start()
        try await withCluster(relays: 1, server: server, directoryTimeout: 2) { cluster in
            let relay = cluster.relays[0]
            try await server.stop()
            for _ in 0..<2 {
                let conversation = self.newConversation()
                let events = try await SSETestStream.open(
                    relay.address, "/api/conversation/\(conversation)/stream?events=2"
                ) { stream in
                    #expect(stream.head.headers.first(name: "X-SSE-Relay") == "started")
                    return try await stream.readToEnd()
                }
                #expect(events.compactMap(\.data).count == 2)
            }
            #expect(relay.server.cluster?.node.isDegraded == true)
        }
    }
}
