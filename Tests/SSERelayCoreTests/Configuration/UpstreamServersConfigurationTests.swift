import Testing

@testable import SSERelayCore

/// `upstream.servers` and `upstream.health`: several backend servers, their weights, and when
/// one is taken out of the rotation. Loaded and checked the way ``ConfigurationLoaderTests``
/// does, with its helpers.
@Suite("Upstream servers configuration")
struct UpstreamServersConfigurationTests {
    private static func load(_ json: String) throws(ConfigurationError) -> RelayConfiguration {
        try ConfigurationLoaderTests.load(json)
    }

    private static func server(_ host: String, _ port: Int, weight: Int = 1) -> UpstreamServerConfiguration {
        UpstreamServerConfiguration(url: UpstreamURL(host: host, port: port), weight: weight)
    }

    // MARK: servers

    @Test("servers as URL strings: each with weight 1, in the order given; url is the first")
    func serversAsStrings() throws {
        let upstream = try Self.load(#"{"upstream": {"servers": ["http://a:3001", "http://b:3002", "http://[::1]"]}}"#)
            .upstream
        #expect(upstream.servers == [Self.server("a", 3001), Self.server("b", 3002), Self.server("::1", 80)])
        #expect(upstream.url == UpstreamURL(host: "a", port: 3001))
    }

    @Test("servers as objects with a weight, beside strings")
    func serversAsObjects() throws {
        let upstream = try Self.load(
            """
            {"upstream": {"servers": [
              {"url": "http://a:3001", "weight": 3},
              "http://b:3002",
              {"url": "http://c:3003/", "weight": 100},
              {"url": "http://d:3004", "weight": 1.0e1}
            ]}}
            """
        ).upstream
        #expect(
            upstream.servers == [
                Self.server("a", 3001, weight: 3), Self.server("b", 3002), Self.server("c", 3003, weight: 100),
                Self.server("d", 3004, weight: 10),
            ])
        #expect(upstream.servers.map(\.weight) == [3, 1, 100, 10])
    }

    @Test("A server object without a weight has weight 1, and one such server is the same as upstream.url")
    func defaultWeight() throws {
        let configuration = try Self.load(#"{"upstream": {"servers": [{"url": "http://backend:4000"}]}}"#)
        #expect(configuration.upstream.servers.map(\.weight) == [1])
        #expect(UpstreamServerConfiguration(url: UpstreamURL(host: "x", port: 1)).weight == 1)
        #expect(configuration == (try Self.load(#"{"upstream": {"url": "http://backend:4000"}}"#)))
        #expect(configuration == (try Self.load(#"{"upstream": {"servers": ["http://backend:4000"]}}"#)))
        #expect(configuration != RelayConfiguration())
    }

    @Test("Without url or servers, the one default server; url alone is the one server")
    func defaultAndURLOnly() throws {
        #expect(try Self.load("{}").upstream.servers == [Self.server("127.0.0.1", 3000)])
        #expect(try Self.load(#"{"upstream": {}}"#).upstream.servers == [Self.server("127.0.0.1", 3000)])
        #expect(try Self.load(#"{"upstream": {"url": "http://b:1"}}"#).upstream.servers == [Self.server("b", 1)])
        #expect(try Self.load(#"{"upstream": "http://b:1"}"#).upstream.servers == [Self.server("b", 1)])
    }

    @Test("64 servers, the most, are accepted")
    func mostServers() throws {
        let upstream = try Self.load(Self.serversDocument(count: 64)).upstream
        #expect(upstream.servers.count == 64)
        #expect(upstream.servers.last == Self.server("s63", 3063))
    }

    @Test(
        "A bad upstream.servers is reported at its key path with a reason",
        arguments: [
            (
                #"{"upstream": {"url": "http://a:1", "servers": ["http://b:2"]}}"#, "upstream.servers",
                "give either upstream.url (one server) or upstream.servers, not both"
            ),
            (#"{"upstream": {"servers": []}}"#, "upstream.servers", "expected 1 to 64 servers, got 0"),
            (
                Self.serversDocument(count: 65), "upstream.servers",
                "expected 1 to 64 servers, got 65"
            ),
            (#"{"upstream": {"servers": "http://a:1"}}"#, "upstream.servers", #"expected an array, got the string"#),
            (#"{"upstream": {"servers": null}}"#, "upstream.servers", "expected an array, got null"),
            (
                #"{"upstream": {"servers": ["http://a:1", "http://b:2", "http://a:1"]}}"#, "upstream.servers",
                "http://a:1 is listed twice (at [2]); give it a weight instead"
            ),
            (
                #"{"upstream": {"servers": [{"url": "http://a", "weight": 2}, "http://a:80/"]}}"#, "upstream.servers",
                "http://a is listed twice (at [1])"
            ),
            (
                #"{"upstream": {"servers": ["http://Backend:3000", "http://backend:3000"]}}"#, "upstream.servers",
                "http://backend:3000 is listed twice (at [1]): host names are case-insensitive"
            ),
            (
                #"{"upstream": {"servers": ["http://a:1", "ftp://b:2"]}}"#, "upstream.servers[1]",
                #"expected an http:// or https:// URL such as http://127.0.0.1:3000, got the string "ftp://b:2""#
            ),
            (
                #"{"upstream": {"servers": ["http://a:1", {"url": "http://b/api"}]}}"#, "upstream.servers[1].url",
                "no path"
            ),
            (#"{"upstream": {"servers": [{"weight": 2}]}}"#, "upstream.servers[0].url", "required"),
            (#"{"upstream": {"servers": [{"url": null}]}}"#, "upstream.servers[0].url", "expected a string, got null"),
            (
                #"{"upstream": {"servers": [{"url": "http://a:1", "weight": 0}]}}"#, "upstream.servers[0].weight",
                "expected a whole number from 1 to 100, got the number 0"
            ),
            (
                #"{"upstream": {"servers": [{"url": "http://a:1", "weight": 101}]}}"#, "upstream.servers[0].weight",
                "expected a whole number from 1 to 100, got the number 101"
            ),
            (
                #"{"upstream": {"servers": [{"url": "http://a:1", "weight": 1.5}]}}"#, "upstream.servers[0].weight",
                "got the number 1.5"
            ),
            (
                #"{"upstream": {"servers": [{"url": "http://a:1", "weight": "2"}]}}"#, "upstream.servers[0].weight",
                #"got the string "2""#
            ),
            (
                #"{"upstream": {"servers": [{"url": "http://a:1", "wieght": 2}]}}"#, "upstream.servers[0].wieght",
                "unknown key (known keys here: url, weight)"
            ),
            (
                #"{"upstream": {"servers": [3000]}}"#, "upstream.servers[0]",
                "expected a URL string or an object with url and weight, got the number 3000"
            ),
            (
                #"{"upstream": {"servers": ["http://a:1", ["http://b:2"]]}}"#, "upstream.servers[1]",
                "expected a URL string or an object with url and weight, got an array"
            ),
        ]
    )
    func badServers(json: String, location: String, messagePart: String) throws {
        try ConfigurationLoaderTests.expectBadValue(json, at: location, saying: messagePart)
    }

    @Test("Every bad server of a list is reported in one pass")
    func severalBadServers() throws {
        let error = try #require(
            ConfigurationLoaderTests.failure(
                #"{"upstream": {"servers": ["ftp://a", {"url": "http://b:2", "weight": 0, "x": 1}, 7, "http://d:4"]}}"#
            ))
        #expect(
            error.problems.map(\.location) == [
                "upstream.servers[0]", "upstream.servers[1].weight", "upstream.servers[1].x", "upstream.servers[2]",
            ])
    }

    @Test("Setting url makes it the only server, with weight 1; --upstream does the same")
    func urlSetterReplacesServers() throws {
        var configuration = try Self.load(
            #"{"upstream": {"servers": [{"url": "http://a:1", "weight": 5}, "http://b:2"]}}"#)
        #expect(configuration.upstream.servers.count == 2)

        let flagged = try ConfigurationOverrides(upstream: "http://c:3").applied(to: configuration)
        #expect(flagged.upstream.servers == [Self.server("c", 3)])

        configuration.upstream.url = UpstreamURL(host: "a", port: 1)
        #expect(configuration.upstream.servers == [Self.server("a", 1)])
        #expect(configuration.upstream.url == UpstreamURL(host: "a", port: 1))
    }

    // MARK: health

    @Test("health defaults: 3 failures in a row take a server out for 10 s, no active check")
    func healthDefaults() throws {
        for json in ["{}", #"{"upstream": {"health": {}}}"#, #"{"upstream": {"health": {"check": null}}}"#] {
            let health = try Self.load(json).upstream.health
            #expect(health.maxFails == 3)
            #expect(health.failTimeoutSeconds == 10)
            #expect(health.check == nil)
            #expect(health == UpstreamHealthConfiguration())
        }
    }

    @Test("health with every key set")
    func healthEveryKey() throws {
        let health = try Self.load(
            """
            {"upstream": {"servers": ["http://a:1", "http://b:2"], "health": {
              "maxFails": 1000, "failTimeoutSeconds": 0.5,
              "check": {"path": "/healthz?full=1", "intervalSeconds": 0.1, "timeoutSeconds": 3600}
            }}}
            """
        ).upstream.health
        #expect(health.maxFails == 1000)
        #expect(health.failTimeoutSeconds == 0.5)
        let check = try #require(health.check)
        #expect(check.path == "/healthz?full=1")
        #expect(check.intervalSeconds == 0.1)
        #expect(check.timeoutSeconds == 3600)
    }

    @Test("health.check with only a path checks every 5 s with a 2 s timeout")
    func healthCheckDefaults() throws {
        let check = try #require(
            try Self.load(#"{"upstream": {"health": {"check": {"path": "/"}}}}"#).upstream.health.check)
        #expect(check == UpstreamHealthCheckConfiguration(path: "/"))
        #expect(check.intervalSeconds == 5)
        #expect(check.timeoutSeconds == 2)
    }

    @Test(
        "A bad upstream.health is reported at its key path with a reason",
        arguments: [
            (#"{"upstream": {"health": null}}"#, "upstream.health", "expected an object, got null"),
            (#"{"upstream": {"health": {"check": {}}}}"#, "upstream.health.check.path", "required"),
            (
                #"{"upstream": {"health": {"check": {"intervalSeconds": 1}}}}"#, "upstream.health.check.path",
                "required: the path to GET"
            ),
            (
                #"{"upstream": {"health": {"check": {"path": "healthz"}}}}"#, "upstream.health.check.path",
                #"expected a path starting with / and no spaces or control characters, got the string "healthz""#
            ),
            (
                #"{"upstream": {"health": {"check": {"path": "/a b"}}}}"#, "upstream.health.check.path",
                #"got the string "/a b""#
            ),
            (
                #"{"upstream": {"health": {"check": {"path": "/\u0001"}}}}"#, "upstream.health.check.path",
                "expected a path starting with /"
            ),
            (
                #"{"upstream": {"health": {"check": {"path": "/é"}}}}"#, "upstream.health.check.path",
                "expected a path starting with /"
            ),
            (#"{"upstream": {"health": {"check": {"path": 5}}}}"#, "upstream.health.check.path", "expected a string"),
            (
                #"{"upstream": {"health": {"check": "/healthz"}}}"#, "upstream.health.check",
                #"expected an object, got the string "/healthz""#
            ),
            (
                #"{"upstream": {"health": {"check": {"path": "/", "intervalSeconds": 0.05}}}}"#,
                "upstream.health.check.intervalSeconds", "expected a number of seconds from 0.1 to 3600"
            ),
            (
                #"{"upstream": {"health": {"check": {"path": "/", "timeoutSeconds": 0}}}}"#,
                "upstream.health.check.timeoutSeconds", "expected a number of seconds from 0.001 to 3600"
            ),
            (
                #"{"upstream": {"health": {"check": {"path": "/", "method": "HEAD"}}}}"#,
                "upstream.health.check.method", "unknown key (known keys here: intervalSeconds, path, timeoutSeconds)"
            ),
            (
                #"{"upstream": {"health": {"maxFails": 0}}}"#, "upstream.health.maxFails",
                "expected a whole number from 1 to 1000, got the number 0"
            ),
            (#"{"upstream": {"health": {"maxFails": 1001}}}"#, "upstream.health.maxFails", "got the number 1001"),
            (
                #"{"upstream": {"health": {"failTimeoutSeconds": 0}}}"#, "upstream.health.failTimeoutSeconds",
                "expected a number of seconds from 0.001 to 86400, got the number 0"
            ),
            (
                #"{"upstream": {"health": {"maxfails": 3}}}"#, "upstream.health.maxfails",
                "unknown key (known keys here: check, failTimeoutSeconds, maxFails)"
            ),
        ]
    )
    func badHealth(json: String, location: String, messagePart: String) throws {
        try ConfigurationLoaderTests.expectBadValue(json, at: location, saying: messagePart)
    }

    // MARK: Helpers

    /// `upstream.servers` with `count` distinct servers, `http://s0:3000` onwards.
    private static func serversDocument(count: Int) -> String {
        let servers = (0..<count).map { #""http://s\#($0):\#(3000 + $0)""# }.joined(separator: ", ")
        return #"{"upstream": {"servers": [\#(servers)]}}"#
    }
}
