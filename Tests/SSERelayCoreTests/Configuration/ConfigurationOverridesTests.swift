import Testing

@testable import SSERelayCore

@Suite("ConfigurationOverrides")
struct ConfigurationOverridesTests {
    private static func failure(
        _ overrides: ConfigurationOverrides,
        base: RelayConfiguration = RelayConfiguration()
    ) -> ConfigurationError? {
        #expect(throws: ConfigurationError.self) { try overrides.applied(to: base) }
    }

    @Test("No flags leave the configuration unchanged")
    func noFlags() throws {
        var base = RelayConfiguration()
        base.listen = HostAndPort(host: "0.0.0.0", port: 1)
        base.log.level = .error
        base.admin.listen = nil
        #expect(try ConfigurationOverrides().applied(to: base) == base)
        #expect(try ConfigurationOverrides().applied(to: RelayConfiguration()) == RelayConfiguration())
    }

    @Test("--listen sets listen and nothing else")
    func listen() throws {
        let result = try ConfigurationOverrides(listen: "[::]:8443").applied(to: RelayConfiguration())
        var expected = RelayConfiguration()
        expected.listen = HostAndPort(host: "::", port: 8443)
        #expect(result == expected)
    }

    @Test("--upstream sets upstream.url and keeps the other upstream settings")
    func upstream() throws {
        var base = RelayConfiguration()
        base.upstream.maxConnections = 7
        base.upstream.responseTimeoutSeconds = 1.5
        let result = try ConfigurationOverrides(upstream: "http://backend:3001").applied(to: base)
        var expected = base
        expected.upstream.url = UpstreamURL(host: "backend", port: 3001)
        #expect(result == expected)
        #expect(result.upstream.maxConnections == 7)
    }

    @Test("--upstream without a port means port 80")
    func upstreamDefaultPort() throws {
        let result = try ConfigurationOverrides(upstream: "http://backend").applied(to: RelayConfiguration())
        #expect(result.upstream.url == UpstreamURL(host: "backend", port: 80))
    }

    @Test("--admin sets admin.listen, also when the file turned the admin listener off, and keeps the token")
    func admin() throws {
        var base = RelayConfiguration()
        base.admin.listen = nil
        base.admin.token = "t0ken"
        let result = try ConfigurationOverrides(admin: "127.0.0.1:9191").applied(to: base)
        #expect(result.admin.listen == HostAndPort(host: "127.0.0.1", port: 9191))
        #expect(result.admin.token == "t0ken")
        var expected = base
        expected.admin.listen = HostAndPort(host: "127.0.0.1", port: 9191)
        #expect(result == expected)
    }

    @Test(
        "--log-level accepts every level in any case",
        arguments: [
            ("trace", LogConfiguration.Level.trace), ("debug", .debug), ("info", .info), ("notice", .notice),
            ("warning", .warning), ("error", .error), ("critical", .critical), ("DEBUG", .debug), ("Warning", .warning),
        ]
    )
    func logLevel(text: String, level: LogConfiguration.Level) throws {
        var base = RelayConfiguration()
        base.log.level = level == .info ? .error : .info
        let result = try ConfigurationOverrides(logLevel: text).applied(to: base)
        #expect(result.log.level == level)
        var expected = base
        expected.log.level = level
        #expect(result == expected)
    }

    @Test("All flags together")
    func allFlags() throws {
        let overrides = ConfigurationOverrides(
            listen: "0.0.0.0:80", upstream: "http://[::1]:3000", admin: "127.0.0.1:0", logLevel: "trace")
        let result = try overrides.applied(to: RelayConfiguration())
        #expect(result.listen == HostAndPort(host: "0.0.0.0", port: 80))
        #expect(result.upstream.url == UpstreamURL(host: "::1", port: 3000))
        #expect(result.admin.listen == HostAndPort(host: "127.0.0.1", port: 0))
        #expect(result.log.level == .trace)
        #expect(result.streams == RelayConfiguration().streams)
        #expect(result.limits == RelayConfiguration().limits)
    }

    @Test(
        "A bad value names its flag, the reason and the value, with source command line",
        arguments: [
            (
                ConfigurationOverrides(listen: "8080"), "--listen",
                "expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got \"8080\""
            ),
            (
                ConfigurationOverrides(listen: "localhost:70000"), "--listen",
                "(port 0 to 65535), got \"localhost:70000\""
            ),
            (ConfigurationOverrides(upstream: "ws://backend"), "--upstream", "expected an http:// or https:// URL"),
            (ConfigurationOverrides(upstream: "backend:3000"), "--upstream", "expected an http:// or https:// URL"),
            (ConfigurationOverrides(upstream: "http://backend/api"), "--upstream", "no path"),
            (ConfigurationOverrides(admin: "nowhere"), "--admin", "expected HOST:PORT"),
            (ConfigurationOverrides(admin: "[::1]"), "--admin", "got \"[::1]\""),
            (
                ConfigurationOverrides(logLevel: "loud"), "--log-level",
                "expected one of trace, debug, info, notice, warning, error, critical, got \"loud\""
            ),
            (ConfigurationOverrides(logLevel: ""), "--log-level", "expected one of"),
            (ConfigurationOverrides(logLevel: "warn"), "--log-level", "got \"warn\""),
        ]
    )
    func badValue(overrides: ConfigurationOverrides, flag: String, messagePart: String) throws {
        let error = try #require(Self.failure(overrides))
        #expect(error.source == "command line")
        #expect(error.problems.count == 1)
        #expect(error.problems.first?.location == flag)
        #expect(error.problems.first?.message.contains(messagePart) == true, "\(error)")
        #expect(error.description.hasPrefix("command line: \(flag): "))
    }

    @Test("Every bad flag is reported, in flag order")
    func everyBadFlag() throws {
        let overrides = ConfigurationOverrides(listen: "x", upstream: "ftp://y", admin: "z", logLevel: "w")
        let error = try #require(Self.failure(overrides))
        #expect(error.problems.map(\.location) == ["--listen", "--upstream", "--admin", "--log-level"])
        #expect(error.description.split(separator: "\n").count == 4)
        #expect(error.description.split(separator: "\n").allSatisfy { $0.hasPrefix("command line: --") })
    }

    @Test("Good flags do not hide a bad one")
    func goodAndBadFlags() throws {
        let error = try #require(
            Self.failure(ConfigurationOverrides(listen: "127.0.0.1:1", upstream: "http://ok:1", logLevel: "nope")))
        #expect(error.problems.map(\.location) == ["--log-level"])
    }

    // MARK: The listeners must stay apart

    @Test("--admin onto the proxy's address is rejected")
    func adminOntoListen() throws {
        let error = try #require(Self.failure(ConfigurationOverrides(admin: "127.0.0.1:8080")))
        #expect(error.source == "command line")
        #expect(error.problems.map(\.location) == ["--admin"])
        #expect(error.problems.first?.message.contains("must differ from listen (127.0.0.1:8080)") == true)
    }

    @Test("--listen onto the admin listener's address is rejected")
    func listenOntoAdmin() throws {
        let error = try #require(Self.failure(ConfigurationOverrides(listen: "127.0.0.1:9090")))
        #expect(error.problems.map(\.location) == ["--listen"])
        #expect(error.problems.first?.message.contains("admin.listen (127.0.0.1:9090)") == true)
    }

    @Test("Both flags onto one address are reported against --admin")
    func bothOntoOneAddress() throws {
        let error = try #require(Self.failure(ConfigurationOverrides(listen: "[::1]:7000", admin: "[::1]:7000")))
        #expect(error.problems.map(\.location) == ["--admin"])
        #expect(error.problems.first?.message.contains("[::1]:7000") == true)
    }

    @Test("Moving both listeners apart, port 0 on both, or no admin listener are all fine")
    func listenersApart() throws {
        let apart = try ConfigurationOverrides(listen: "127.0.0.1:9090", admin: "127.0.0.1:9091").applied(
            to: RelayConfiguration())
        #expect(apart.listen.port == 9090)
        #expect(apart.admin.listen?.port == 9091)
        let ephemeral = try ConfigurationOverrides(listen: "127.0.0.1:0", admin: "127.0.0.1:0").applied(
            to: RelayConfiguration())
        #expect(ephemeral.listen == ephemeral.admin.listen)
        var noAdmin = RelayConfiguration()
        noAdmin.admin.listen = nil
        let result = try ConfigurationOverrides(listen: "127.0.0.1:9090").applied(to: noAdmin)
        #expect(result.listen.port == 9090)
        #expect(result.admin.listen == nil)
    }

    @Test("--listen or --admin onto cluster.peer.listen is rejected, naming the flag")
    func flagsOntoPeerListener() throws {
        var base = RelayConfiguration()
        base.cluster = ClusterConfiguration(
            database: ClusterDatabaseConfiguration(host: "db", user: "relay"),
            peer: ClusterPeerConfiguration(listen: HostAndPort(host: "127.0.0.1", port: 8081), secretFile: "/s"))
        let listen = try #require(Self.failure(ConfigurationOverrides(listen: "127.0.0.1:8081"), base: base))
        #expect(
            listen.problems == [
                .init(location: "--listen", message: "must differ from cluster.peer.listen (127.0.0.1:8081)")
            ])
        let admin = try #require(Self.failure(ConfigurationOverrides(admin: "127.0.0.1:8081"), base: base))
        #expect(
            admin.problems == [
                .init(location: "--admin", message: "must differ from cluster.peer.listen (127.0.0.1:8081)")
            ])
        // Both onto one address: the listeners' own check speaks first, as without a cluster.
        let both = try #require(
            Self.failure(ConfigurationOverrides(listen: "127.0.0.1:8081", admin: "127.0.0.1:8081"), base: base))
        #expect(both.problems.map(\.location) == ["--admin"])
        #expect(both.problems.first?.message == "must differ from listen (127.0.0.1:8081)")
    }

    @Test("Flags that keep the listeners off cluster.peer.listen, or a peer listener on port 0, are fine")
    func flagsBesidePeerListener() throws {
        var base = RelayConfiguration()
        base.cluster = ClusterConfiguration(
            database: ClusterDatabaseConfiguration(host: "db", user: "relay"),
            peer: ClusterPeerConfiguration(listen: HostAndPort(host: "127.0.0.1", port: 0), secretFile: "/s"))
        let ephemeral = try ConfigurationOverrides(listen: "127.0.0.1:0", admin: "127.0.0.1:0").applied(to: base)
        #expect(ephemeral.cluster?.peer.listen == ephemeral.listen)
        base.cluster?.peer.listen.port = 8081
        let apart = try ConfigurationOverrides(listen: "127.0.0.1:8082", admin: "127.0.0.2:8081").applied(to: base)
        #expect(apart.cluster == base.cluster)
    }
}
