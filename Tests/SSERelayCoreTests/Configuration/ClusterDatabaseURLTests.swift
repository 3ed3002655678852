import Testing

@testable import SSERelayCore

/// `cluster.database.url` on its own: what each accepted URL means and why each refused one is
/// refused, without quoting it.
@Suite("ClusterDatabaseURL")
struct ClusterDatabaseURLTests {
    typealias TLSMode = ClusterDatabaseConfiguration.TLSMode

    @Test(
        "Accepted URLs and their parts",
        arguments: [
            ("postgres://relay@db", "db", 5432, "relay", nil, nil),
            ("postgresql://relay@db:6432/directory", "db", 6432, "relay", "directory", nil),
            ("POSTGRES://relay@DB.Internal/", "DB.Internal", 5432, "relay", nil, nil),
            ("postgres://relay@db/?sslmode=disable", "db", 5432, "relay", nil, TLSMode.disable),
            ("postgres://relay@db?sslmode=prefer", "db", 5432, "relay", nil, .prefer),
            ("postgres://relay@10.0.0.7:5433/relay?sslmode=require", "10.0.0.7", 5433, "relay", "relay", .require),
            ("postgres://relay@[::1]", "::1", 5432, "relay", nil, nil),
            ("postgres://relay@[2001:db8::5]:65535/d", "2001:db8::5", 65535, "relay", "d", nil),
            ("postgres://sse%40relay@db/my%2Fdb%20one", "db", 5432, "sse@relay", "my/db one", nil),
            ("postgres://r%C3%A9lay@db/caf%c3%a9", "db", 5432, "rélay", "café", nil),
            ("postgres://relay@127.0.0.1:46101/relay", "127.0.0.1", 46101, "relay", "relay", nil),
            ("postgres://relay@db?&sslmode=require&", "db", 5432, "relay", nil, .require),
        ] as [(String, String, Int, String, String?, TLSMode?)]
    )
    func accepted(
        text: String, host: String, port: Int, user: String, database: String?, tls: TLSMode?
    ) throws {
        let url = try ClusterDatabaseURL(parsing: text)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.user == user)
        #expect(url.database == database)
        #expect(url.tls == tls)
    }

    @Test(
        "Refused URLs, each with the part that is wrong",
        arguments: [
            ("", "expected a postgres:// or postgresql:// URL"),
            ("db.internal:5432", "expected a postgres:// or postgresql:// URL"),
            ("postgres:relay@db", "expected a postgres:// or postgresql:// URL"),
            ("http://relay@db", "expected a postgres:// or postgresql:// URL"),
            ("postgres://", "expected a user before the host"),
            ("postgres://db:5432/relay", "expected a user before the host"),
            ("postgres://@db", "expected a user before the host"),
            ("postgres://relay@", "expected a host after the user"),
            ("postgres://relay@:5432", "expected a host after the user"),
            ("postgres://relay@/relay", "expected a host after the user"),
            ("postgres://relay@db:", "expected a port from 1 to 65535 after the host"),
            ("postgres://relay@db:0", "expected a port from 1 to 65535 after the host"),
            ("postgres://relay@db:65536", "expected a port from 1 to 65535 after the host"),
            ("postgres://relay@db:+5432", "expected a port from 1 to 65535 after the host"),
            ("postgres://relay@db:54x", "expected a port from 1 to 65535 after the host"),
            ("postgres://relay@::1", "expected an IPv6 host in brackets"),
            ("postgres://relay@2001:db8::5:5432", "expected an IPv6 host in brackets"),
            ("postgres://relay@[::1", "expected a ] after the IPv6 address of the host"),
            ("postgres://relay@[db]", "expected only an IPv6 address in brackets"),
            ("postgres://relay@[::1]5432", "expected :PORT or nothing after the ] of the host"),
            ("postgres://relay@[::1]:0", "expected a port from 1 to 65535 after the host"),
            ("postgres://relay@db1,db2", "expected a host name or IP address after the user"),
            ("postgres://relay@d%62", "expected a host name or IP address after the user"),
            ("postgres://relay@d b", "expected a host name or IP address after the user"),
            ("postgres://relay@db/a/b", "expected only a database name after the host, no further path"),
            ("postgres://relay@db#x", "expected no fragment (#) in the URL"),
            ("postgres://relay@db/relay#", "expected no fragment (#) in the URL"),
            ("postgres://re%4lay@db", "expected two hex digits after every % in the user"),
            ("postgres://relay%@db", "expected two hex digits after every % in the user"),
            ("postgres://relay@db/d%zz", "expected two hex digits after every % in the database"),
            ("postgres://relay%FF@db", "expected the user to be UTF-8 once its %XX are decoded"),
            ("postgres://re%00lay@db", "expected a user name without control characters"),
            ("postgres://relay@db/re%0Alay", "expected a database name without control characters"),
            ("postgres://relay@db?sslmode=verify-full", "expected sslmode=disable, sslmode=prefer or sslmode=require"),
            ("postgres://relay@db?sslmode=", "expected sslmode=disable, sslmode=prefer or sslmode=require"),
            ("postgres://relay@db?sslmode=Require", "expected sslmode=disable, sslmode=prefer or sslmode=require"),
            ("postgres://relay@db?sslmode=require&sslmode=disable", "expected sslmode only once"),
            (
                "postgres://relay@db?connect_timeout=10",
                #"expected no query parameter but sslmode, got "connect_timeout""#
            ),
            ("postgres://relay@db?host=other", #"expected no query parameter but sslmode, got "host""#),
            ("postgres://relay@db?Secret-Thing", "expected no query parameter but sslmode"),
        ]
    )
    func refused(text: String, message: String) throws {
        let error = try #require(throws: ConfigurationValueError.self) { try ClusterDatabaseURL(parsing: text) }
        #expect(error.message.hasPrefix(message), "\(error.message)")
        // Nothing of the URL but a parameter name that looks like libpq's is quoted.
        let example = "postgres://relay@db.internal:5432/relay"
        if !example.contains(text), !text.contains("connect_timeout"), !text.contains("host=") {
            #expect(!error.message.contains(text))
        }
        #expect(!error.message.contains("Secret"))
    }

    @Test(
        "A password anywhere is refused with the same message, before any other problem",
        arguments: [
            "postgres://relay:pw@db", "postgres://relay:@db", "postgresql://relay:p@ss@[::1]:0/x#y",
            "postgres://relay:p/w@db", "postgres://relay:p?w@db/d", "postgres://relay:p#w@db",
            "postgres://relay@db?password=pw", "postgres://relay@db:bad/a/b?sslmode=x&password=",
        ])
    func password(text: String) throws {
        let error = try #require(throws: ConfigurationValueError.self) { try ClusterDatabaseURL(parsing: text) }
        #expect(error.message == ClusterDatabaseURL.passwordMessage)
        #expect(!error.message.contains("pw"))
    }
}
