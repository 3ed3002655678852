import Foundation
import Testing

/// The harness of the cluster directory's tests: ``ThrowawayPostgres`` starts a real server
/// that `relay` logs in to over TCP with the password of its file, stops it, shares one across
/// tests, and leaves no server behind a test that forgot it.
@Suite("Throwaway PostgreSQL server", .needsThrowawayPostgres, .timeLimit(.minutes(1)))
struct ThrowawayPostgresTests {
    @Test("a fresh server answers SELECT 1 to relay, logged in over TCP with the password of its file")
    func answersWithThePasswordFile() async throws {
        try await ThrowawayPostgres.withServer { server in
            #expect(server.host == "127.0.0.1")
            #expect(server.user == "relay")
            #expect(server.database == "relay")
            #expect(server.url == "postgres://relay@127.0.0.1:\(server.port)/relay")
            let url = try String(contentsOf: server.directory.appendingPathComponent("url"), encoding: .utf8)
            #expect(url == server.url + "\n")

            let passwordFile = server.directory.appendingPathComponent("password").path
            let permissions = try FileManager.default.attributesOfItem(atPath: passwordFile)[.posixPermissions]
            #expect((permissions as? NSNumber)?.intValue == 0o600)
            let password = try String(contentsOfFile: passwordFile, encoding: .utf8)
            #expect(password.count == 32)
            #expect(password == server.password)

            // psql connects to the URL with PGPASSWORD set to the file's password.
            #expect(try await server.psql("SELECT 1") == "1")
            let identity = try await server.psql(
                "SELECT current_user, current_database(), current_setting('server_version_num')::int / 10000")
            #expect(identity == "relay|relay|15")
        }
    }

    @Test("the server asks for the password over TCP and refuses a wrong one")
    func refusesAWrongPassword() async throws {
        let server = try await ThrowawayPostgres.shared
        let error = await #expect(throws: FixtureError.self) {
            try await server.psql("SELECT 1", password: "not-the-password")
        }
        #expect(error?.description.contains("password authentication failed for user \"relay\"") == true)
    }

    @Test("stop() ends the server and removes its directory; the second stop() does nothing")
    func stopEndsTheServer() async throws {
        let server = try await ThrowawayPostgres.start()
        #expect(try await server.psql("SELECT 1") == "1")
        try await server.stop()
        #expect(!FileManager.default.fileExists(atPath: server.directory.path))
        await #expect(throws: FixtureError.self) {
            try await server.psql("SELECT 1")
        }
        try await server.stop()
    }

    @Test("a server its test did not stop ends with its value: the script's watcher sees the pipe close")
    func anUnstoppedServerEnds() async throws {
        let directory: URL
        do {
            let server = try await ThrowawayPostgres.start()
            directory = server.directory
            #expect(try await server.psql("SELECT 1") == "1")
        }
        // The watcher stops the server (fast mode, well under a second) and removes the
        // directory: wait up to 20 s for it.
        let deadline = ContinuousClock.now + .seconds(20)
        while FileManager.default.fileExists(atPath: directory.path), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path))
    }

    @Test("tests share one server, each in tables of its own")
    func sharedServerWithTablesOfTheirOwn() async throws {
        let server = try await ThrowawayPostgres.shared
        #expect(try await ThrowawayPostgres.shared === server)
        let table = ThrowawayPostgres.uniqueTableName("streams")
        #expect(table.hasPrefix("streams_") && table.count == "streams_".count + 16)
        #expect(ThrowawayPostgres.uniqueTableName("streams") != table)

        let rows = try await server.psql(
            """
            CREATE TABLE \(table) (stream text PRIMARY KEY, owner text NOT NULL);
            INSERT INTO \(table) VALUES ('s1', 'relay-a'), ('s2', 'relay-b');
            SELECT owner FROM \(table) ORDER BY stream;
            DROP TABLE \(table);
            """)
        #expect(rows == "relay-a\nrelay-b")
    }
}
