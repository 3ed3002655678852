import Testing

@testable import SSERelayCore

/// `cluster`: the directory database, the peer listener, the lease timings, and the checks
/// across them. Loaded and checked the way ``ConfigurationLoaderTests`` does, with its helpers.
@Suite("Cluster configuration")
struct ClusterConfigurationTests {
    private static func load(_ json: String) throws(ConfigurationError) -> RelayConfiguration {
        try ConfigurationLoaderTests.load(json)
    }

    /// A document whose `cluster` is `{ "database": DATABASE, "peer": PEER }` plus `more`.
    private static func document(
        database: String = #"{"url": "postgres://relay@db.internal/relay"}"#,
        peer: String = #"{"listen": "10.0.0.5:8081", "secretFile": "/etc/sse-relay/peer-secret"}"#,
        more: String = ""
    ) -> String {
        #"{"cluster": {"database": \#(database), "peer": \#(peer)\#(more.isEmpty ? "" : ", " + more)}}"#
    }

    private static func cluster(_ json: String) throws -> ClusterConfiguration {
        try #require(try Self.load(json).cluster)
    }

    private static let peer = ClusterPeerConfiguration(
        listen: HostAndPort(host: "10.0.0.5", port: 8081), secretFile: "/etc/sse-relay/peer-secret")

    // MARK: Off by default

    @Test(
        "Without a cluster section, or with null, the relay is a single node",
        arguments: ["{}", #"{"cluster": null}"#, #"{"listen": "127.0.0.1:8080", "cluster": null}"#])
    func absentOrNull(json: String) throws {
        let configuration = try Self.load(json)
        #expect(configuration.cluster == nil)
        #expect(configuration == RelayConfiguration())
        #expect(RelayConfiguration().cluster == nil)
    }

    // MARK: Minimal sections

    @Test("The smallest cluster with a URL: every other key at its default")
    func minimalURL() throws {
        let cluster = try Self.cluster(
            #"""
            {"cluster": {
              "database": {"url": "postgres://relay@db.internal"},
              "peer": {"listen": "10.0.0.5:8081", "secretFile": "/etc/sse-relay/peer-secret"}
            }}
            """#)
        let database = ClusterDatabaseConfiguration(host: "db.internal", user: "relay")
        #expect(cluster == ClusterConfiguration(database: database, peer: Self.peer))
        #expect(cluster.database.host == "db.internal")
        #expect(cluster.database.port == 5432)
        #expect(cluster.database.user == "relay")
        #expect(cluster.database.database == "relay")
        #expect(cluster.database.passwordFile == nil)
        #expect(cluster.database.passwordEnvironment == nil)
        #expect(cluster.database.tls == .prefer)
        #expect(cluster.database.table == "sse_relay_directory")
        #expect(cluster.peer.listen == HostAndPort(host: "10.0.0.5", port: 8081))
        #expect(cluster.peer.advertise == nil)
        #expect(cluster.peer.secretFile == "/etc/sse-relay/peer-secret")
        #expect(cluster.leaseSeconds == 15)
        #expect(cluster.renewIntervalSeconds == 5)
        #expect(cluster.directoryTimeoutSeconds == 2)
    }

    @Test("The smallest cluster with parts: the same value as the URL that says the same")
    func minimalParts() throws {
        let parts = try Self.cluster(Self.document(database: #"{"host": "db.internal", "user": "relay"}"#))
        #expect(parts == ClusterConfiguration(database: .init(host: "db.internal", user: "relay"), peer: Self.peer))
        #expect(parts == (try Self.cluster(Self.document(database: #"{"url": "postgres://relay@db.internal"}"#))))
        #expect(
            parts
                == (try Self.cluster(Self.document(database: #"{"url": "postgresql://relay@db.internal:5432/relay"}"#)))
        )
    }

    @Test("Every key set, in the URL form and in the parts form")
    func everyKey() throws {
        let more = #""leaseSeconds": 30, "renewIntervalSeconds": 10, "directoryTimeoutSeconds": 0.5"#
        let peer = #"{"listen": "0.0.0.0:8081", "advertise": "relay-1.internal:18081", "secretFile": "/run/secret"}"#
        let fromURL = try Self.cluster(
            Self.document(
                database: #"""
                    {"url": "postgresql://sse%40relay@[2001:db8::5]:6432/directory?sslmode=require",
                     "passwordEnv": "SSE_RELAY_DB_PASSWORD", "table": "relay_streams_2"}
                    """#,
                peer: peer, more: more))
        var database = ClusterDatabaseConfiguration(host: "2001:db8::5", user: "sse@relay", database: "directory")
        database.port = 6432
        database.passwordEnvironment = "SSE_RELAY_DB_PASSWORD"
        database.tls = .require
        database.table = "relay_streams_2"
        var expected = ClusterConfiguration(
            database: database,
            peer: ClusterPeerConfiguration(listen: HostAndPort(host: "0.0.0.0", port: 8081), secretFile: "/run/secret"))
        expected.peer.advertise = HostAndPort(host: "relay-1.internal", port: 18081)
        expected.leaseSeconds = 30
        expected.renewIntervalSeconds = 10
        expected.directoryTimeoutSeconds = 0.5
        #expect(fromURL == expected)

        let fromParts = try Self.cluster(
            Self.document(
                database: #"""
                    {"host": "2001:db8::5", "port": 6432, "user": "sse@relay", "database": "directory",
                     "passwordEnv": "SSE_RELAY_DB_PASSWORD", "tls": "require", "table": "relay_streams_2"}
                    """#,
                peer: peer, more: more))
        #expect(fromParts == expected)

        var withFile = database
        withFile.passwordEnvironment = nil
        withFile.passwordFile = "/etc/sse-relay/db-password"
        #expect(
            try Self.cluster(
                Self.document(
                    database: #"""
                        {"host": "2001:db8::5", "port": 6432, "user": "sse@relay", "database": "directory",
                         "passwordFile": "/etc/sse-relay/db-password", "passwordEnv": null, "tls": "require",
                         "table": "relay_streams_2"}
                        """#)
            ).database == withFile)
    }

    @Test(
        "tls: each mode, from the key or from the URL's sslmode",
        arguments: ClusterDatabaseConfiguration.TLSMode.allCases)
    func tlsModes(mode: ClusterDatabaseConfiguration.TLSMode) throws {
        let fromKey = try Self.cluster(
            Self.document(database: #"{"url": "postgres://relay@db", "tls": "\#(mode.rawValue)"}"#))
        let fromURL = try Self.cluster(
            Self.document(database: #"{"url": "postgres://relay@db?sslmode=\#(mode.rawValue)"}"#))
        let fromParts = try Self.cluster(
            Self.document(database: #"{"host": "db", "user": "relay", "tls": "\#(mode.rawValue)"}"#))
        #expect(fromKey.database.tls == mode)
        #expect(fromURL == fromKey)
        #expect(fromParts == fromKey)
    }

    @Test(
        "Values on the edges of their ranges are accepted",
        arguments: [
            #""leaseSeconds": 2, "renewIntervalSeconds": 0.5"#,
            #""leaseSeconds": 3600, "renewIntervalSeconds": 1200"#,
            #""leaseSeconds": 3.3, "renewIntervalSeconds": 1.1"#,
            #""leaseSeconds": 1.5e1, "renewIntervalSeconds": 5"#,
            #""directoryTimeoutSeconds": 0.05"#,
            #""directoryTimeoutSeconds": 60"#,
        ])
    func edgesAccepted(more: String) throws {
        _ = try Self.cluster(Self.document(more: more))
    }

    @Test("A table name of 63 bytes, the most, and one that starts with _, are accepted")
    func tableEdges() throws {
        let longest = String(repeating: "a", count: 63)
        let database = try Self.cluster(
            Self.document(database: #"{"url": "postgres://relay@db", "table": "\#(longest)"}"#)
        ).database
        #expect(database.table == longest)
        let underscore = try Self.cluster(Self.document(database: #"{"url": "postgres://relay@db", "table": "_x9"}"#))
        #expect(underscore.database.table == "_x9")
    }

    // MARK: Bad values

    @Test(
        "A bad cluster value is reported at its key path with a reason",
        arguments: [
            (#"{"cluster": true}"#, "cluster", "expected an object or null, got true"),
            (#"{"cluster": []}"#, "cluster", "expected an object or null, got an array"),
            (
                #"{"cluster": {"peer": {"listen": "10.0.0.5:8081", "secretFile": "/s"}}}"#, "cluster.database",
                "required: the PostgreSQL server that holds the directory, as url or as host and user"
            ),
            (
                #"{"cluster": {"database": {"url": "postgres://relay@db"}}}"#, "cluster.peer",
                "required: listen and secretFile, at least"
            ),
            (
                Self.document(more: #""port": 1"#), "cluster.port",
                "unknown key (known keys here: database, directoryTimeoutSeconds, leaseSeconds, peer, renewIntervalSeconds)"
            ),
            (Self.document(database: "null"), "cluster.database", "expected an object, got null"),
            (Self.document(database: "5432"), "cluster.database", "expected an object, got the number 5432"),
            (Self.document(peer: "[]"), "cluster.peer", "expected an object, got an array"),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwd": "x"}"#), "cluster.database.passwd",
                "unknown key (known keys here: database, host, passwordEnv, passwordFile, port, table, tls, url, user)"
            ),
            (
                Self.document(peer: #"{"listen": "10.0.0.5:8081", "secretFile": "/s", "secret": "x"}"#),
                "cluster.peer.secret", "unknown key (known keys here: advertise, listen, secretFile)"
            ),
            // cluster.database, parts
            (
                Self.document(database: #"{"user": "relay"}"#), "cluster.database.host",
                "required: the PostgreSQL server's host name or IP address (or give cluster.database.url)"
            ),
            (
                Self.document(database: #"{"host": "db"}"#), "cluster.database.user",
                "required: the PostgreSQL user the relay connects as (or give cluster.database.url)"
            ),
            (
                Self.document(database: #"{"host": "", "user": "relay"}"#), "cluster.database.host",
                #"got the string """#
            ),
            (
                Self.document(database: #"{"host": "db:5432", "user": "relay"}"#), "cluster.database.host",
                #"expected a host name or IP address, without a port, got the string "db:5432""#
            ),
            (
                Self.document(database: #"{"host": "[::1]", "user": "relay"}"#), "cluster.database.host",
                "expected a host name or IP address (an IPv6 address without brackets)"
            ),
            (Self.document(database: #"{"host": "db one", "user": "relay"}"#), "cluster.database.host", "host name"),
            (Self.document(database: #"{"host": "a,b", "user": "relay"}"#), "cluster.database.host", "host name"),
            (Self.document(database: #"{"host": 5, "user": "relay"}"#), "cluster.database.host", "expected a string"),
            (
                Self.document(database: #"{"host": "db", "user": "relay", "port": 0}"#), "cluster.database.port",
                "expected a whole number from 1 to 65535, got the number 0"
            ),
            (
                Self.document(database: #"{"host": "db", "user": "relay", "port": 65536}"#), "cluster.database.port",
                "expected a whole number from 1 to 65535, got the number 65536"
            ),
            (
                Self.document(database: #"{"host": "db", "user": "relay", "port": "5432"}"#), "cluster.database.port",
                #"got the string "5432""#
            ),
            (
                Self.document(database: #"{"host": "db", "user": ""}"#), "cluster.database.user",
                #"expected a user name, not an empty string, got the string """#
            ),
            (
                Self.document(database: #"{"host": "db", "user": "re\u0000lay"}"#), "cluster.database.user",
                "expected a user name without control characters"
            ),
            (
                Self.document(database: #"{"host": "db", "user": "relay", "database": ""}"#),
                "cluster.database.database", "expected a database name, not an empty string"
            ),
            (
                Self.document(database: #"{"host": "db", "user": "relay", "database": null}"#),
                "cluster.database.database", "expected a string, got null"
            ),
            // url beside the parts
            (
                Self.document(database: #"{"url": "postgres://relay@db", "host": "db"}"#), "cluster.database.host",
                "give either cluster.database.url or cluster.database.host, not both"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "port": 5432}"#), "cluster.database.port",
                "give either cluster.database.url or cluster.database.port, not both"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "user": "relay"}"#), "cluster.database.user",
                "give either cluster.database.url or cluster.database.user, not both"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "database": "relay"}"#),
                "cluster.database.database", "give either cluster.database.url or cluster.database.database, not both"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db?sslmode=require", "tls": "require"}"#),
                "cluster.database.tls",
                "give the TLS mode either as ?sslmode= in cluster.database.url or as cluster.database.tls, not both"
            ),
            // url
            (
                Self.document(database: #"{"url": 5432}"#), "cluster.database.url",
                "expected a string, got the number 5432"
            ),
            (Self.document(database: #"{"url": null}"#), "cluster.database.url", "expected a string, got null"),
            (
                Self.document(database: #"{"url": "mysql://relay@db"}"#), "cluster.database.url",
                "expected a postgres:// or postgresql:// URL such as postgres://relay@db.internal:5432/relay"
            ),
            (Self.document(database: #"{"url": "postgres://db/relay"}"#), "cluster.database.url", "expected a user"),
            (
                Self.document(database: #"{"url": "postgres://relay@db:0"}"#), "cluster.database.url",
                "expected a port from 1 to 65535 after the host"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@::1/relay"}"#), "cluster.database.url",
                "expected an IPv6 host in brackets"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db?sslmode=verify-full"}"#),
                "cluster.database.url", "expected sslmode=disable, sslmode=prefer or sslmode=require"
            ),
            // passwords
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwordFile": ""}"#),
                "cluster.database.passwordFile", "expected a path to a file, got an empty string"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwordFile": 1}"#),
                "cluster.database.passwordFile", "expected a string or null, got the number 1"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwordFile": "/p", "passwordEnv": "PW"}"#),
                "cluster.database.passwordEnv",
                "give either cluster.database.passwordFile or cluster.database.passwordEnv, not both"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwordEnv": "1PW"}"#),
                "cluster.database.passwordEnv",
                #"expected an environment variable name (letters, digits and _, not starting with a digit), got the string "1PW""#
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwordEnv": "DB-PASSWORD"}"#),
                "cluster.database.passwordEnv", "expected an environment variable name"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwordEnv": 1}"#),
                "cluster.database.passwordEnv", "expected a string or null, got the number 1"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwordEnv": ""}"#),
                "cluster.database.passwordEnv", "expected an environment variable name"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "passwordEnv": "PÄSSWORD"}"#),
                "cluster.database.passwordEnv", "expected an environment variable name"
            ),
            // tls, table
            (
                Self.document(database: #"{"url": "postgres://relay@db", "tls": "verify-full"}"#),
                "cluster.database.tls", #"expected one of "disable", "prefer", "require", got the string "verify-full""#
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "tls": true}"#), "cluster.database.tls",
                "got true"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "table": "Streams"}"#),
                "cluster.database.table",
                #"expected a lowercase SQL identifier (a-z, 0-9 and _, not starting with a digit, at most 63 bytes), got the string "Streams""#
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "table": "9lives"}"#),
                "cluster.database.table", "expected a lowercase SQL identifier"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "table": "a; drop table x"}"#),
                "cluster.database.table", "expected a lowercase SQL identifier"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "table": "public.streams"}"#),
                "cluster.database.table", "expected a lowercase SQL identifier"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "table": "user"}"#),
                "cluster.database.table",
                #"expected a table name that is not a reserved word of PostgreSQL's SQL, got the string "user""#
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "table": "select"}"#),
                "cluster.database.table", "reserved word"
            ),
            (
                Self.document(database: #"{"url": "postgres://relay@db", "table": ""}"#), "cluster.database.table",
                "expected a lowercase SQL identifier"
            ),
            (
                Self.document(
                    database: #"{"url": "postgres://relay@db", "table": "\#(String(repeating: "a", count: 64))"}"#),
                "cluster.database.table", "at most 63 bytes"
            ),
            // cluster.peer
            (
                Self.document(peer: #"{"secretFile": "/s"}"#), "cluster.peer.listen",
                "required: where the peer listener binds"
            ),
            (
                Self.document(peer: #"{"listen": "8081", "secretFile": "/s"}"#), "cluster.peer.listen",
                #"expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got the string "8081""#
            ),
            (
                Self.document(peer: #"{"listen": null, "secretFile": "/s"}"#), "cluster.peer.listen",
                "expected a string, got null"
            ),
            (
                Self.document(peer: #"{"listen": "10.0.0.5:8081"}"#), "cluster.peer.secretFile",
                "required: a file with the secret every relay of the cluster shares (at least 16 bytes)"
            ),
            (
                Self.document(peer: #"{"listen": "10.0.0.5:8081", "secretFile": ""}"#), "cluster.peer.secretFile",
                #"expected a path to a file, got the string """#
            ),
            (
                Self.document(peer: #"{"listen": "10.0.0.5:8081", "secretFile": null}"#), "cluster.peer.secretFile",
                "expected a string, got null"
            ),
            (
                Self.document(peer: #"{"listen": "0.0.0.0:8081", "secretFile": "/s"}"#), "cluster.peer.advertise",
                "required when cluster.peer.listen binds every address (0.0.0.0:8081): the address other relays "
                    + "reach this one at, such as 10.0.0.5:8081"
            ),
            (
                Self.document(peer: #"{"listen": "[::]:8081", "advertise": null, "secretFile": "/s"}"#),
                "cluster.peer.advertise", "required when cluster.peer.listen binds every address ([::]:8081)"
            ),
            (
                Self.document(peer: #"{"listen": "[0:0:0:0:0:0:0:0]:0", "secretFile": "/s"}"#),
                "cluster.peer.advertise", "required when cluster.peer.listen binds every address"
            ),
            (
                Self.document(peer: #"{"listen": "10.0.0.5:8081", "advertise": "10.0.0.5:0", "secretFile": "/s"}"#),
                "cluster.peer.advertise",
                #"expected the port other relays connect to, not 0, got the string "10.0.0.5:0""#
            ),
            (
                Self.document(peer: #"{"listen": "10.0.0.5:8081", "advertise": "0.0.0.0:8081", "secretFile": "/s"}"#),
                "cluster.peer.advertise", "expected an address other relays can reach, not 0.0.0.0 or ::"
            ),
            (
                Self.document(peer: #"{"listen": "0.0.0.0:8081", "advertise": "[::]:8081", "secretFile": "/s"}"#),
                "cluster.peer.advertise", "expected an address other relays can reach, not 0.0.0.0 or ::"
            ),
            (
                Self.document(peer: #"{"listen": "10.0.0.5:8081", "advertise": "relay-1", "secretFile": "/s"}"#),
                "cluster.peer.advertise", "expected HOST:PORT"
            ),
            // Timings
            (
                Self.document(more: #""leaseSeconds": 1"#), "cluster.leaseSeconds",
                "expected a number of seconds from 2 to 3600, got the number 1"
            ),
            (
                Self.document(more: #""leaseSeconds": 3601"#), "cluster.leaseSeconds",
                "expected a number of seconds from 2 to 3600, got the number 3601"
            ),
            (
                Self.document(more: #""renewIntervalSeconds": 0.4"#), "cluster.renewIntervalSeconds",
                "expected a number of seconds from 0.5 to 1800, got the number 0.4"
            ),
            (
                Self.document(more: #""leaseSeconds": 3600, "renewIntervalSeconds": 1801"#),
                "cluster.renewIntervalSeconds", "expected a number of seconds from 0.5 to 1800, got the number 1801"
            ),
            (
                Self.document(more: #""directoryTimeoutSeconds": 0.01"#), "cluster.directoryTimeoutSeconds",
                "expected a number of seconds from 0.05 to 60, got the number 0.01"
            ),
            (
                Self.document(more: #""directoryTimeoutSeconds": null"#), "cluster.directoryTimeoutSeconds",
                "expected a number of seconds from 0.05 to 60, got null"
            ),
            (
                Self.document(more: #""renewIntervalSeconds": 6"#), "cluster.renewIntervalSeconds",
                "must be at most a third of cluster.leaseSeconds (15), so that two renewals in a row may fail "
                    + "before a lease runs out, got the number 6"
            ),
            (
                Self.document(more: #""leaseSeconds": 10"#), "cluster.renewIntervalSeconds",
                "must be at most a third of cluster.leaseSeconds (10)"
            ),
            (
                Self.document(more: #""leaseSeconds": 2, "renewIntervalSeconds": 0.7"#), "cluster.renewIntervalSeconds",
                "must be at most a third of cluster.leaseSeconds (2), so that two renewals in a row may fail "
                    + "before a lease runs out, got the number 0.7"
            ),
        ]
    )
    func badValue(json: String, location: String, messagePart: String) throws {
        try ConfigurationLoaderTests.expectBadValue(json, at: location, saying: messagePart)
    }

    @Test("A bad lease or interval is reported once, not again against the other's default")
    func renewalCheckedOnlyOnGoodValues() throws {
        // leaseSeconds 1 is refused, and 15 stands in for it: 6 would not fit 15, but saying so
        // would be about a lease the file never gave.
        let badLease = try #require(
            ConfigurationLoaderTests.failure(Self.document(more: #""leaseSeconds": 1, "renewIntervalSeconds": 6"#)))
        #expect(badLease.problems.map(\.location) == ["cluster.leaseSeconds"])
        let badInterval = try #require(
            ConfigurationLoaderTests.failure(Self.document(more: #""leaseSeconds": 9, "renewIntervalSeconds": 0"#)))
        #expect(badInterval.problems.map(\.location) == ["cluster.renewIntervalSeconds"])
        #expect(badInterval.problems.first?.message.hasPrefix("expected a number of seconds") == true)
    }

    @Test("Every problem of the cluster section is reported in one pass")
    func severalProblems() throws {
        let json = """
            {"cluster": {
              "database": {"url": "postgres://relay@db", "port": 1, "passwordFile": "/p", "passwordEnv": "P",
                           "table": "T", "tls": "maybe"},
              "peer": {"listen": "0.0.0.0:8081", "secretFile": ""},
              "leaseSeconds": 0, "renewIntervalSeconds": 9000, "directoryTimeoutSeconds": 61, "extra": true
            }}
            """
        let error = try #require(ConfigurationLoaderTests.failure(json))
        #expect(
            error.problems.map(\.location) == [
                "cluster.database.port", "cluster.database.passwordEnv", "cluster.database.tls",
                "cluster.database.table", "cluster.peer.advertise", "cluster.peer.secretFile",
                "cluster.leaseSeconds", "cluster.renewIntervalSeconds", "cluster.directoryTimeoutSeconds",
                "cluster.extra",
            ])
    }

    @Test("A missing database and peer are both reported, with the problems inside the rest")
    func missingSections() throws {
        let error = try #require(ConfigurationLoaderTests.failure(#"{"cluster": {"leaseSeconds": 1}}"#))
        #expect(error.problems.map(\.location) == ["cluster.database", "cluster.peer", "cluster.leaseSeconds"])
        let empty = try #require(ConfigurationLoaderTests.failure(#"{"cluster": {"database": {}, "peer": {}}}"#))
        #expect(
            empty.problems.map(\.location) == [
                "cluster.database.host", "cluster.database.user", "cluster.peer.listen", "cluster.peer.secretFile",
            ])
    }

    // MARK: Passwords stay out of messages

    @Test(
        "A URL with a password is refused without quoting the password or the URL",
        arguments: [
            "postgres://relay:hunter2-Secret@db.internal:5432/relay",
            "postgresql://relay:hunter2-Secret@[::1]/relay?sslmode=require",
            "postgres://relay:@db.internal/relay",
            "postgres://relay:hunter2@Secret@db.internal/relay",
            "postgres://relay:hunter2/Secret@db.internal/relay",
            "postgres://relay:hunter2?Secret@db.internal/relay",
            "postgres://relay:hunter2#Secret@db.internal/relay",
            "postgres://relay@db.internal/relay?password=hunter2-Secret",
            "postgres://relay@db.internal/relay?sslmode=require&password=hunter2-Secret",
        ])
    func passwordInURL(url: String) throws {
        let error = try #require(ConfigurationLoaderTests.failure(Self.document(database: #"{"url": "\#(url)"}"#)))
        #expect(error.problems.map(\.location) == ["cluster.database.url"])
        let message = try #require(error.problems.first?.message)
        #expect(
            message
                == "must not contain a password: leave it out of the URL and give it in "
                + "cluster.database.passwordFile or cluster.database.passwordEnv")
        for secret in ["hunter2", "Secret", "db.internal", url] {
            #expect(!error.description.contains(secret), "\(error)")
        }
    }

    @Test(
        "No message about a URL quotes it",
        arguments: [
            "mysql://hidden-user:hunter2@hidden-host", "postgres://hidden-user@hidden-host:port",
            "postgres://hidden-user@hidden-host/a/b", "postgres://hidden-user@hidden-host#hunter2",
            "postgres://hidden-user@hidden-host?secret=hunter2", "postgres://hidden-user@[hidden-host]",
            "postgres://hidden-%4user@hidden-host", "postgres://hidden-user@hidden-host?sslmode=hunter2",
            "postgres://hidden-user@hidden-host?hunter2", "postgres://hidden-host",
        ])
    func urlNeverQuoted(url: String) throws {
        let error = try #require(ConfigurationLoaderTests.failure(Self.document(database: #"{"url": "\#(url)"}"#)))
        #expect(error.problems.map(\.location) == ["cluster.database.url"])
        for part in ["hunter2", "hidden-host", "hidden-user", url] {
            #expect(!error.description.contains(part), "\(error)")
        }
    }

    @Test(
        "A URL where an object or a host is expected is not quoted either",
        arguments: [
            (#"{"cluster": "postgres://relay:hunter2@db.internal"}"#, "cluster"),
            (Self.document(database: #""postgres://relay:hunter2@db.internal""#), "cluster.database"),
            (
                Self.document(database: #"{"host": "postgres://relay:hunter2@db.internal", "user": "relay"}"#),
                "cluster.database.host"
            ),
        ])
    func urlInTheWrongPlace(json: String, location: String) throws {
        let error = try #require(ConfigurationLoaderTests.failure(json))
        #expect(error.problems.map(\.location) == [location])
        #expect(!error.description.contains("hunter2"), "\(error)")
        #expect(error.problems.first?.message.contains("cluster.database.url") == true, "\(error)")
    }

    // MARK: Listeners

    @Test(
        "cluster.peer.listen must differ from listen and from admin.listen",
        arguments: [
            (
                #""listen": "127.0.0.1:8080""#, "127.0.0.1:8080",
                [
                    ConfigurationError.Problem(
                        location: "cluster.peer.listen", message: "must differ from listen (127.0.0.1:8080)")
                ]
            ),
            (
                #""listen": "127.0.0.1:8081""#, "127.0.0.1:9090",
                [.init(location: "cluster.peer.listen", message: "must differ from admin.listen (127.0.0.1:9090)")]
            ),
            (
                #""listen": "[::1]:7000", "admin": {"listen": "[::1]:7000"}"#, "[::1]:7000",
                [
                    .init(location: "admin.listen", message: "must differ from listen ([::1]:7000)"),
                    .init(location: "cluster.peer.listen", message: "must differ from listen ([::1]:7000)"),
                    .init(location: "cluster.peer.listen", message: "must differ from admin.listen ([::1]:7000)"),
                ]
            ),
        ])
    func peerListenerApart(top: String, peer: String, problems: [ConfigurationError.Problem]) throws {
        let json = """
            {\(top), "cluster": {"database": {"url": "postgres://relay@db"},
                                "peer": {"listen": "\(peer)", "secretFile": "/s"}}}
            """
        let error = try #require(ConfigurationLoaderTests.failure(json))
        #expect(error.problems == problems)
    }

    @Test("cluster.peer.listen on its own address, or on port 0 beside listeners on port 0, is fine")
    func peerListenerFine() throws {
        let apart = try Self.load(
            #"{"listen": "127.0.0.1:8080", "cluster": {"database": {"url": "postgres://relay@db"}, "peer": {"listen": "127.0.0.1:8081", "secretFile": "/s"}}}"#
        )
        #expect(apart.cluster?.peer.listen == HostAndPort(host: "127.0.0.1", port: 8081))
        let ephemeral = try Self.load(
            #"{"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"}, "cluster": {"database": {"url": "postgres://relay@db"}, "peer": {"listen": "127.0.0.1:0", "secretFile": "/s"}}}"#
        )
        #expect(ephemeral.cluster?.peer.listen == ephemeral.listen)
        let noAdmin = try Self.load(
            #"{"admin": {"listen": null}, "cluster": {"database": {"url": "postgres://relay@db"}, "peer": {"listen": "127.0.0.1:9090", "secretFile": "/s"}}}"#
        )
        #expect(noAdmin.cluster?.peer.listen.port == 9090)
    }

    @Test("The advertised address: advertise, or else listen's host with the bound port")
    func advertisedAddress() throws {
        var peer = Self.peer
        #expect(peer.advertisedAddress(boundPort: 8081) == HostAndPort(host: "10.0.0.5", port: 8081))
        peer.listen.port = 0
        #expect(peer.advertisedAddress(boundPort: 40123) == HostAndPort(host: "10.0.0.5", port: 40123))
        peer.advertise = HostAndPort(host: "relay-1.internal", port: 18081)
        #expect(peer.advertisedAddress(boundPort: 40123) == HostAndPort(host: "relay-1.internal", port: 18081))
        let wildcard = try Self.cluster(
            Self.document(peer: #"{"listen": "[::]:8081", "advertise": "[2001:db8::7]:8081", "secretFile": "/s"}"#))
        #expect(wildcard.peer.advertisedAddress(boundPort: 8081) == HostAndPort(host: "2001:db8::7", port: 8081))
    }
}
