import Foundation
import Testing

@testable import SSERelayCore

@Suite("ConfigurationLoader")
struct ConfigurationLoaderTests {
    static let source = "/etc/sse-relay/relay.json"

    static func load(_ json: String) throws(ConfigurationError) -> RelayConfiguration {
        try ConfigurationLoader.load(json: Data(json.utf8), source: Self.source)
    }

    /// The error that loading `json` must throw, or `nil` (after recording an issue) when it loads.
    static func failure(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        #expect(throws: ConfigurationError.self, sourceLocation: sourceLocation) { try Self.load(json) }
    }

    // MARK: Defaults

    @Test("The empty object gives exactly the embedded defaults", arguments: ["{}", " { } ", "\n{\n}\n"])
    func emptyObjectIsDefaults(json: String) throws {
        #expect(try Self.load(json) == RelayConfiguration())
    }

    @Test("The embedded defaults are the values of SPEC §6")
    func embeddedDefaultsMatchSpec() throws {
        let configuration = try Self.load("{}")
        #expect(configuration.listen == HostAndPort(host: "127.0.0.1", port: 8080))
        #expect(configuration.upstream.url == UpstreamURL(host: "127.0.0.1", port: 3000))
        #expect(configuration.upstream.connectTimeoutSeconds == 2)
        #expect(configuration.upstream.responseTimeoutSeconds == 30)
        // Both connection limits are derived from the descriptor limit unless configured.
        #expect(configuration.upstream.maxConnections == nil)
        #expect(configuration.upstream.idleTimeoutSeconds == 4)
        #expect(configuration.admin.listen == HostAndPort(host: "127.0.0.1", port: 9090))
        #expect(configuration.admin.token == nil)
        #expect(configuration.streams.count == 1)
        let route = try #require(configuration.streams.first)
        #expect(route.path == RoutePattern.conversationStream)
        #expect(route.path.description == "/api/conversation/:conversationId/stream")
        #expect(route.varyHeaders == nil)
        #expect(route.keyIncludesQuery == true)
        #expect(route.retryMs == 2000)
        #expect(route.ids == .auto)
        #expect(route.joinFrom == .start)
        #expect(route.heartbeatSeconds == 15)
        #expect(route.upstreamLingerSeconds == 300)
        #expect(route.retainSeconds == 300)
        #expect(route.upstreamFailure == .retry)
        #expect(route.responseHeader == "X-SSE-Relay")
        #expect(route.replay.maxEvents == 10_000)
        #expect(route.replay.maxBytes == 4_194_304)
        #expect(configuration.limits.maxConnections == nil)
        #expect(configuration.limits.maxHeaderBytes == 32_768)
        #expect(configuration.limits.clientQueueBytes == 1_048_576)
        #expect(configuration.limits.replayMemoryBytes == 268_435_456)
        #expect(configuration.limits.headerReadTimeoutSeconds == 10)
        #expect(configuration.limits.idleTimeoutSeconds == 60)
        #expect(configuration.shutdownGraceSeconds == 120)
        #expect(configuration.log.level == .info)
        #expect(configuration.log.format == .json)
        #expect(configuration.log.headers == false)
    }

    @Test("The SPEC §6 document, which spells out every default, loads to the embedded defaults")
    func specDocumentIsDefaults() throws {
        let json = """
            {
              "listen": "127.0.0.1:8080",
              "upstream": { "url": "http://127.0.0.1:3000", "connectTimeoutSeconds": 2,
                            "responseTimeoutSeconds": 30, "maxConnections": 1024 },
              "admin": { "listen": "127.0.0.1:9090", "token": null },
              "streams": [ {
                "path": "/api/conversation/:conversationId/stream",
                "varyHeaders": null, "keyIncludesQuery": true,
                "retryMs": 2000, "ids": "auto", "joinFrom": "start", "heartbeatSeconds": 15,
                "upstreamLingerSeconds": 300, "retainSeconds": 300,
                "upstreamFailure": "retry", "responseHeader": "X-SSE-Relay",
                "replay": { "maxEvents": 10000, "maxBytes": 4194304 }
              } ],
              "limits": { "maxConnections": 50000, "maxHeaderBytes": 32768,
                          "clientQueueBytes": 1048576, "replayMemoryBytes": 268435456,
                          "headerReadTimeoutSeconds": 10, "idleTimeoutSeconds": 60 },
              "shutdownGraceSeconds": 120,
              "log": { "level": "info", "format": "json", "headers": false }
            }
            """
        // The document spells out the two connection limits, which by default are derived from
        // the descriptor limit; everything else is the default.
        var expected = RelayConfiguration()
        expected.upstream.maxConnections = 1024
        expected.limits.maxConnections = 50_000
        #expect(try Self.load(json) == expected)
    }

    @Test(
        "A null or absent connection limit means derived",
        arguments: [
            #"{"upstream": {"maxConnections": null}, "limits": {"maxConnections": null}}"#,
            #"{"upstream": {}, "limits": {}}"#,
        ])
    func connectionLimitsDerived(json: String) throws {
        let configuration = try Self.load(json)
        #expect(configuration.upstream.maxConnections == nil)
        #expect(configuration.limits.maxConnections == nil)
    }

    // MARK: Full documents

    @Test("A document that sets every key to a non-default value")
    func fullDocument() throws {
        let json = """
            {
              "listen": "0.0.0.0:8081",
              "upstream": { "url": "http://backend.internal:3001", "connectTimeoutSeconds": 0.5,
                            "responseTimeoutSeconds": 45, "maxConnections": 64, "idleTimeoutSeconds": 3 },
              "admin": { "listen": "[::1]:9191", "token": "s3cret" },
              "streams": [ {
                "path": "/api/chat/:chatId/events",
                "varyHeaders": ["Authorization", "X-Tenant"], "keyIncludesQuery": false,
                "retryMs": 500, "ids": "relay", "joinFrom": "live", "heartbeatSeconds": 7.5,
                "upstreamLingerSeconds": 0, "retainSeconds": 60,
                "upstreamFailure": "status", "responseHeader": "X-Relay-State",
                "replay": { "maxEvents": 100, "maxBytes": 65536 }
              }, { "path": "/rooms/:room/:topic" } ],
              "limits": { "maxConnections": 100, "maxHeaderBytes": 8192,
                          "clientQueueBytes": 65536, "replayMemoryBytes": 1048576,
                          "headerReadTimeoutSeconds": 5, "idleTimeoutSeconds": 30 },
              "shutdownGraceSeconds": 0,
              "log": { "level": "debug", "format": "text", "headers": true }
            }
            """
        var expected = RelayConfiguration()
        expected.listen = HostAndPort(host: "0.0.0.0", port: 8081)
        expected.upstream.url = UpstreamURL(host: "backend.internal", port: 3001)
        expected.upstream.connectTimeoutSeconds = 0.5
        expected.upstream.responseTimeoutSeconds = 45
        expected.upstream.maxConnections = 64
        expected.upstream.idleTimeoutSeconds = 3
        expected.admin.listen = HostAndPort(host: "::1", port: 9191)
        expected.admin.token = "s3cret"
        var chat = StreamRouteConfiguration(path: try RoutePattern(parsing: "/api/chat/:chatId/events"))
        chat.varyHeaders = ["authorization", "x-tenant"]
        chat.keyIncludesQuery = false
        chat.retryMs = 500
        chat.ids = .relay
        chat.joinFrom = .live
        chat.heartbeatSeconds = 7.5
        chat.upstreamLingerSeconds = 0
        chat.retainSeconds = 60
        chat.upstreamFailure = .status
        chat.responseHeader = "X-Relay-State"
        chat.replay.maxEvents = 100
        chat.replay.maxBytes = 65536
        let rooms = StreamRouteConfiguration(path: try RoutePattern(parsing: "/rooms/:room/:topic"))
        expected.streams = [chat, rooms]
        expected.limits.maxConnections = 100
        expected.limits.maxHeaderBytes = 8192
        expected.limits.clientQueueBytes = 65536
        expected.limits.replayMemoryBytes = 1_048_576
        expected.limits.headerReadTimeoutSeconds = 5
        expected.limits.idleTimeoutSeconds = 30
        expected.shutdownGraceSeconds = 0
        expected.log.level = .debug
        expected.log.format = .text
        expected.log.headers = true

        let configuration = try Self.load(json)
        #expect(configuration == expected)
        // Spot checks that do not depend on `expected` being built right.
        #expect(configuration.streams.map(\.path.description) == ["/api/chat/:chatId/events", "/rooms/:room/:topic"])
        #expect(configuration.streams[1].retryMs == 2000)
        #expect(configuration.streams[1].varyHeaders == nil)
        #expect(configuration.streams[0].path.match(path: "/api/chat/9/events")?.map(\.value) == ["9"])
    }

    @Test("Keys left out of a partial object keep their defaults")
    func partialObjects() throws {
        let configuration = try Self.load(
            #"{"upstream": {"maxConnections": 8}, "limits": {"maxHeaderBytes": 4096}, "streams": [{"retryMs": 100}], "log": {"format": "text"}}"#
        )
        var expected = RelayConfiguration()
        expected.upstream.maxConnections = 8
        expected.limits.maxHeaderBytes = 4096
        expected.streams[0].retryMs = 100
        expected.log.format = .text
        #expect(configuration == expected)
    }

    @Test("An empty streams array means no stream routes; an empty varyHeaders array is allowed")
    func emptyArrays() throws {
        #expect(try Self.load(#"{"streams": []}"#).streams.isEmpty)
        #expect(try Self.load(#"{"streams": [{"varyHeaders": []}]}"#).streams.first?.varyHeaders == [])
    }

    @Test("varyHeaders are stored lowercased")
    func varyHeadersLowercased() throws {
        let configuration = try Self.load(
            #"{"streams": [{"varyHeaders": ["Cookie", "X-API-KEY", "accept-language"]}]}"#)
        #expect(configuration.streams.first?.varyHeaders == ["cookie", "x-api-key", "accept-language"])
    }

    @Test("Numbers written with a fraction or an exponent are whole numbers when their value is")
    func wholeNumberSpellings() throws {
        let configuration = try Self.load(#"{"streams": [{"retryMs": 1.0e3, "replay": {"maxEvents": 5.0}}]}"#)
        #expect(configuration.streams.first?.retryMs == 1000)
        #expect(configuration.streams.first?.replay.maxEvents == 5)
    }

    @Test(
        "Values on the edges of their ranges are accepted",
        arguments: [
            #"{"streams": [{"retryMs": 0}]}"#,
            #"{"streams": [{"retryMs": 86400000}]}"#,
            #"{"streams": [{"heartbeatSeconds": 0.01}]}"#,
            #"{"streams": [{"heartbeatSeconds": 86400}]}"#,
            #"{"streams": [{"upstreamLingerSeconds": 0}]}"#,
            #"{"streams": [{"retainSeconds": 604800}]}"#,
            #"{"streams": [{"replay": {"maxEvents": 1, "maxBytes": 1024}}]}"#,
            #"{"streams": [{"replay": {"maxEvents": 10000000, "maxBytes": 17179869184}}]}"#,
            #"{"limits": {"maxConnections": 1, "maxHeaderBytes": 1024, "clientQueueBytes": 4096, "replayMemoryBytes": 0}}"#,
            #"{"limits": {"maxConnections": 10000000, "maxHeaderBytes": 1048576, "clientQueueBytes": 1073741824, "replayMemoryBytes": 1099511627776}}"#,
            #"{"limits": {"headerReadTimeoutSeconds": 0.001, "idleTimeoutSeconds": 86400}}"#,
            #"{"upstream": {"connectTimeoutSeconds": 3600, "responseTimeoutSeconds": 0.001, "maxConnections": 1000000}}"#,
            #"{"shutdownGraceSeconds": 0}"#,
            #"{"shutdownGraceSeconds": 86400}"#,
            #"{"listen": "127.0.0.1:0"}"#,
            #"{"listen": "[::]:65535"}"#,
        ]
    )
    func edgesAccepted(json: String) throws {
        let configuration = try Self.load(json)
        #expect(configuration != RelayConfiguration())
    }

    // MARK: upstream shorthand

    @Test("A bare URL string for upstream is shorthand for {\"url\": …}")
    func upstreamShorthand() throws {
        let configuration = try Self.load(#"{"upstream": "http://backend:4000"}"#)
        var expected = RelayConfiguration()
        expected.upstream.url = UpstreamURL(host: "backend", port: 4000)
        #expect(configuration == expected)
        #expect(
            try Self.load(#"{"upstream": "http://backend"}"#).upstream.url == UpstreamURL(host: "backend", port: 80))
        #expect(
            try Self.load(#"{"upstream": "http://backend:4000"}"#)
                == Self.load(#"{"upstream": {"url": "http://backend:4000"}}"#))
    }

    // MARK: null

    @Test("null turns off what may be turned off")
    func nullWhereAllowed() throws {
        let configuration = try Self.load(
            """
            {
              "admin": { "listen": null, "token": null },
              "streams": [ { "retryMs": null, "heartbeatSeconds": null,
                             "upstreamLingerSeconds": null, "responseHeader": null } ]
            }
            """)
        #expect(configuration.admin.listen == nil)
        #expect(configuration.admin.token == nil)
        let route = try #require(configuration.streams.first)
        #expect(route.retryMs == nil)
        #expect(route.heartbeatSeconds == nil)
        #expect(route.upstreamLingerSeconds == nil)
        #expect(route.responseHeader == nil)
        #expect(route.retainSeconds == 300)
        #expect(route.replay == StreamRouteConfiguration.Replay())
    }

    @Test(
        "Each nullable key on its own",
        arguments: [
            #"{"admin": {"listen": null}}"#,
            #"{"admin": {"token": null}, "listen": "127.0.0.1:1"}"#,
            #"{"streams": [{"retryMs": null}]}"#,
            #"{"streams": [{"heartbeatSeconds": null}]}"#,
            #"{"streams": [{"upstreamLingerSeconds": null}]}"#,
            #"{"streams": [{"responseHeader": null}]}"#,
        ]
    )
    func eachNullable(json: String) throws {
        let configuration = try Self.load(json)
        #expect(configuration != RelayConfiguration())
        let nulls = [
            configuration.admin.listen == nil, configuration.streams.first?.retryMs == nil,
            configuration.streams.first?.heartbeatSeconds == nil,
            configuration.streams.first?.upstreamLingerSeconds == nil,
            configuration.streams.first?.responseHeader == nil,
        ]
        #expect(nulls.filter { $0 }.count == (json.contains("token") ? 0 : 1))
    }

    @Test("admin.token is kept exactly")
    func adminToken() throws {
        #expect(try Self.load(#"{"admin": {"token": "  spaced token  "}}"#).admin.token == "  spaced token  ")
    }

    // MARK: Errors

    @Test(
        "Every bad value is reported at its key path with a reason",
        arguments: [
            // listen
            (
                #"{"listen": "8080"}"#, "listen",
                #"expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got the string "8080""#
            ),
            (#"{"listen": 8080}"#, "listen", "expected a string, got the number 8080"),
            (#"{"listen": null}"#, "listen", "expected a string, got null"),
            (#"{"listen": "[::1]:99999"}"#, "listen", "(port 0 to 65535)"),
            // upstream
            (#"{"upstream": 3000}"#, "upstream", "expected an object, got the number 3000"),
            (#"{"upstream": null}"#, "upstream", "expected an object, got null"),
            (#"{"upstream": ["http://a"]}"#, "upstream", "expected an object, got an array"),
            (
                #"{"upstream": "https://backend"}"#, "upstream",
                #"TLS to the upstream is not supported, use an http:// URL, got the string "https://backend""#
            ),
            (#"{"upstream": "backend:3000"}"#, "upstream", "expected an http:// URL"),
            (#"{"upstream": "http://backend/api"}"#, "upstream", "no path"),
            (#"{"upstream": {"url": "https://backend"}}"#, "upstream.url", "TLS"),
            (#"{"upstream": {"url": "http://backend/api"}}"#, "upstream.url", "no path"),
            (#"{"upstream": {"url": "http://backend#x"}}"#, "upstream.url", "fragment"),
            (#"{"upstream": {"url": 5}}"#, "upstream.url", "expected a string, got the number 5"),
            (#"{"upstream": {"url": null}}"#, "upstream.url", "expected a string, got null"),
            (
                #"{"upstream": {"connectTimeoutSeconds": 0}}"#, "upstream.connectTimeoutSeconds",
                "expected a number of seconds from 0.001 to 3600, got the number 0"
            ),
            (
                #"{"upstream": {"responseTimeoutSeconds": "30"}}"#, "upstream.responseTimeoutSeconds",
                #"got the string "30""#
            ),
            (
                #"{"upstream": {"maxConnections": 0}}"#, "upstream.maxConnections",
                "expected a whole number from 1 to 1000000 or null, got the number 0"
            ),
            (#"{"upstream": {"maxConnections": 10.5}}"#, "upstream.maxConnections", "got the number 10.5"),
            (#"{"upstream": {"idleTimeoutSeconds": -1}}"#, "upstream.idleTimeoutSeconds", "got the number -1"),
            // admin
            (#"{"admin": "127.0.0.1:9090"}"#, "admin", #"expected an object, got the string "127.0.0.1:9090""#),
            (#"{"admin": null}"#, "admin", "expected an object, got null"),
            (#"{"admin": {"listen": "9090"}}"#, "admin.listen", "expected HOST:PORT"),
            (#"{"admin": {"listen": 9090}}"#, "admin.listen", "expected a string, got the number 9090"),
            (#"{"admin": {"listen": false}}"#, "admin.listen", "expected a string, got false"),
            (#"{"admin": {"token": ""}}"#, "admin.token", "must not be empty (use null for no token)"),
            (#"{"admin": {"token": 123}}"#, "admin.token", "expected a string or null, got the number 123"),
            (#"{"admin": {"token": true}}"#, "admin.token", "expected a string or null, got true"),
            // streams
            (#"{"streams": {}}"#, "streams", "expected an array, got an object"),
            (#"{"streams": null}"#, "streams", "expected an array, got null"),
            (#"{"streams": ["/a"]}"#, "streams[0]", #"expected an object, got the string "/a""#),
            (#"{"streams": [{}, 5]}"#, "streams[1]", "expected an object, got the number 5"),
            (#"{"streams": [{"path": "a"}]}"#, "streams[0].path", "expected a path starting with /"),
            (#"{"streams": [{"path": "/a/:id/:id"}]}"#, "streams[0].path", "parameter :id appears twice"),
            (#"{"streams": [{"path": "/a?b"}]}"#, "streams[0].path", "no query"),
            (#"{"streams": [{"path": null}]}"#, "streams[0].path", "expected a string, got null"),
            (
                #"{"streams": [{"retryMs": "2s"}]}"#, "streams[0].retryMs",
                #"expected a whole number from 0 to 86400000 or null, got the string "2s""#
            ),
            (#"{"streams": [{"retryMs": -1}]}"#, "streams[0].retryMs", "got the number -1"),
            (#"{"streams": [{"retryMs": 2000.5}]}"#, "streams[0].retryMs", "got the number 2000.5"),
            (#"{"streams": [{"retryMs": 86400001}]}"#, "streams[0].retryMs", "got the number 86400001"),
            (#"{"streams": [{"retryMs": 1e20}]}"#, "streams[0].retryMs", "got the number 1e+20"),
            (#"{"streams": [{"retryMs": true}]}"#, "streams[0].retryMs", "got true"),
            (#"{"streams": [{}, {"path": "/b", "retryMs": []}]}"#, "streams[1].retryMs", "got an array"),
            (
                #"{"streams": [{"varyHeaders": "cookie"}]}"#, "streams[0].varyHeaders",
                #"expected an array or null, got the string "cookie""#
            ),
            (
                #"{"streams": [{"varyHeaders": ["cookie", 5]}]}"#, "streams[0].varyHeaders[1]",
                "expected a header name, got the number 5"
            ),
            (
                #"{"streams": [{"varyHeaders": ["cookie", "x y"]}]}"#, "streams[0].varyHeaders[1]",
                #"got the string "x y""#
            ),
            (#"{"streams": [{"varyHeaders": ["", "cookie"]}]}"#, "streams[0].varyHeaders[0]", #"got the string """#),
            (#"{"streams": [{"varyHeaders": ["a:b"]}]}"#, "streams[0].varyHeaders[0]", "expected a header name"),
            (
                #"{"streams": [{"varyHeaders": [null]}]}"#, "streams[0].varyHeaders[0]",
                "expected a header name, got null"
            ),
            (
                #"{"streams": [{"keyIncludesQuery": "yes"}]}"#, "streams[0].keyIncludesQuery",
                #"expected true or false, got the string "yes""#
            ),
            (
                #"{"streams": [{"keyIncludesQuery": 1}]}"#, "streams[0].keyIncludesQuery",
                "expected true or false, got the number 1"
            ),
            (
                #"{"streams": [{"keyIncludesQuery": null}]}"#, "streams[0].keyIncludesQuery",
                "expected true or false, got null"
            ),
            (
                #"{"streams": [{"ids": "server"}]}"#, "streams[0].ids",
                #"expected one of "auto", "relay", got the string "server""#
            ),
            (#"{"streams": [{"ids": "AUTO"}]}"#, "streams[0].ids", #"got the string "AUTO""#),
            (#"{"streams": [{"ids": null}]}"#, "streams[0].ids", "got null"),
            (
                #"{"streams": [{"joinFrom": "end"}]}"#, "streams[0].joinFrom",
                #"expected one of "start", "live", got the string "end""#
            ),
            (
                #"{"streams": [{"upstreamFailure": 502}]}"#, "streams[0].upstreamFailure",
                #"expected one of "retry", "status", got the number 502"#
            ),
            (
                #"{"streams": [{"heartbeatSeconds": 0}]}"#, "streams[0].heartbeatSeconds",
                "expected a number of seconds from 0.01 to 86400 or null, got the number 0"
            ),
            (#"{"streams": [{"heartbeatSeconds": "15"}]}"#, "streams[0].heartbeatSeconds", #"got the string "15""#),
            (
                #"{"streams": [{"upstreamLingerSeconds": -5}]}"#, "streams[0].upstreamLingerSeconds",
                "from 0 to 86400 or null, got the number -5"
            ),
            (
                #"{"streams": [{"retainSeconds": null}]}"#, "streams[0].retainSeconds",
                "expected a number of seconds from 0 to 604800, got null"
            ),
            (#"{"streams": [{"retainSeconds": 604801}]}"#, "streams[0].retainSeconds", "got the number 604801"),
            (
                #"{"streams": [{"responseHeader": "X SSE"}]}"#, "streams[0].responseHeader",
                #"expected a header name or null, got the string "X SSE""#
            ),
            (#"{"streams": [{"responseHeader": ""}]}"#, "streams[0].responseHeader", "expected a header name or null"),
            (
                #"{"streams": [{"responseHeader": 1}]}"#, "streams[0].responseHeader",
                "expected a string or null, got the number 1"
            ),
            (#"{"streams": [{"replay": 5}]}"#, "streams[0].replay", "expected an object, got the number 5"),
            (
                #"{"streams": [{}, {"path": "/b", "replay": {"maxEvents": 0}}]}"#, "streams[1].replay.maxEvents",
                "expected a whole number from 1 to 10000000, got the number 0"
            ),
            (
                #"{"streams": [{"replay": {"maxBytes": 1023}}]}"#, "streams[0].replay.maxBytes",
                "from 1024 to 17179869184, got the number 1023"
            ),
            // limits
            (#"{"limits": []}"#, "limits", "expected an object, got an array"),
            (#"{"limits": {"maxConnections": 0}}"#, "limits.maxConnections", "from 1 to 10000000"),
            (
                #"{"limits": {"maxHeaderBytes": 100}}"#, "limits.maxHeaderBytes",
                "expected a whole number from 1024 to 1048576, got the number 100"
            ),
            (#"{"limits": {"maxHeaderBytes": "32k"}}"#, "limits.maxHeaderBytes", #"got the string "32k""#),
            (#"{"limits": {"clientQueueBytes": 4095}}"#, "limits.clientQueueBytes", "from 4096 to 1073741824"),
            (
                #"{"limits": {"replayMemoryBytes": -1}}"#, "limits.replayMemoryBytes",
                "from 0 to 1099511627776, got the number -1"
            ),
            (#"{"limits": {"headerReadTimeoutSeconds": 0}}"#, "limits.headerReadTimeoutSeconds", "from 0.001 to 3600"),
            (
                #"{"limits": {"idleTimeoutSeconds": 86401}}"#, "limits.idleTimeoutSeconds",
                "from 0.001 to 86400, got the number 86401"
            ),
            // shutdownGraceSeconds
            (
                #"{"shutdownGraceSeconds": -1}"#, "shutdownGraceSeconds",
                "expected a number of seconds from 0 to 86400, got the number -1"
            ),
            (#"{"shutdownGraceSeconds": "120"}"#, "shutdownGraceSeconds", #"got the string "120""#),
            // log
            (#"{"log": "debug"}"#, "log", #"expected an object, got the string "debug""#),
            (
                #"{"log": {"level": "loud"}}"#, "log.level",
                #"expected one of "trace", "debug", "info", "notice", "warning", "error", "critical", got the string "loud""#
            ),
            (#"{"log": {"level": "INFO"}}"#, "log.level", #"got the string "INFO""#),
            (#"{"log": {"format": "xml"}}"#, "log.format", #"expected one of "json", "text", got the string "xml""#),
            (#"{"log": {"headers": "true"}}"#, "log.headers", #"expected true or false, got the string "true""#),
        ]
    )
    func badValue(json: String, location: String, messagePart: String) throws {
        let error = try #require(Self.failure(json))
        #expect(error.source == Self.source)
        #expect(error.problems.map(\.location) == [location])
        #expect(error.problems.first?.message.contains(messagePart) == true, "\(error)")
    }

    @Test(
        "Unknown keys are rejected at every level, naming the key path",
        arguments: [
            (#"{"listn": "127.0.0.1:1"}"#, "listn"),
            (#"{"Listen": "127.0.0.1:1"}"#, "Listen"),
            (#"{"upstream": {"url": "http://a", "timeout": 1}}"#, "upstream.timeout"),
            (#"{"admin": {"tokens": "x"}}"#, "admin.tokens"),
            (#"{"streams": [{"retryMS": 1}]}"#, "streams[0].retryMS"),
            (#"{"streams": [{}, {"path": "/b", "replay": {"max": 1}}]}"#, "streams[1].replay.max"),
            (#"{"streams": [{}, {"path": "/b", "vary": []}]}"#, "streams[1].vary"),
            (#"{"limits": {"maxConn": 1}}"#, "limits.maxConn"),
            (#"{"log": {"colour": true}}"#, "log.colour"),
            (#"{"": 1}"#, #"[""]"#),
            (#"{"upstream": {"": 1}}"#, #"upstream[""]"#),
        ]
    )
    func unknownKey(json: String, location: String) throws {
        let error = try #require(Self.failure(json))
        #expect(error.problems.map(\.location) == [location])
        #expect(error.problems.first?.message.hasPrefix("unknown key (known keys here: ") == true)
    }

    @Test(
        "An unknown key's message lists the keys known at its level",
        arguments: [
            (#"{"x": 1}"#, "admin, limits, listen, log, shutdownGraceSeconds, streams, upstream"),
            (
                #"{"upstream": {"x": 1}}"#,
                "connectTimeoutSeconds, idleTimeoutSeconds, maxConnections, responseTimeoutSeconds, url"
            ),
            (#"{"admin": {"x": 1}}"#, "listen, token"),
            (
                #"{"streams": [{"x": 1}]}"#,
                "afterFailure, heartbeatSeconds, ids, ignoreHeaders, joinFrom, keyIncludesQuery, path, privateResponseHeaders, replay, responseHeader, retainSeconds, retryMs, upstreamFailure, upstreamLingerSeconds, varyHeaders"
            ),
            (#"{"streams": [{"replay": {"x": 1}}]}"#, "maxBytes, maxEvents"),
            (
                #"{"limits": {"x": 1}}"#,
                "clientAddressHeader, clientQueueBytes, headerReadTimeoutSeconds, idleTimeoutSeconds, maxClientsPerGeneration, maxConnections, maxGenerations, maxHeaderBytes, maxHeaderCount, maxLingeringGenerations, maxLingeringPerClient, maxRequestBodyBytes, replayMemoryBytes, requestBodyBufferBytes, requestBodyTimeoutSeconds, streamStartBurstPerClient, streamStartsPerClientPerMinute"
            ),
            (#"{"log": {"x": 1}}"#, "format, headers, level, redactQueryParameters"),
        ]
    )
    func unknownKeyListsKnownKeys(json: String, known: String) throws {
        let error = try #require(Self.failure(json))
        #expect(error.problems.first?.message == "unknown key (known keys here: \(known))")
    }

    @Test("Several unknown keys in one object are each reported, sorted")
    func severalUnknownKeys() throws {
        let error = try #require(Self.failure(#"{"zeta": 1, "alpha": 2, "log": {"b": 1, "a": 2}}"#))
        #expect(error.problems.map(\.location) == ["log.a", "log.b", "alpha", "zeta"])
    }

    @Test("Every problem of a file is reported in one pass")
    func severalProblems() throws {
        let json = """
            {
              "listn": 1,
              "listen": "x",
              "upstream": { "url": "https://a", "extra": 1 },
              "admin": { "token": "" },
              "streams": [
                { "retryMs": "2s", "ids": "y", "bogus": 1, "varyHeaders": ["ok", 1] },
                { "path": "/b", "replay": { "maxEvents": 0 } },
                "not an object"
              ],
              "limits": { "maxHeaderBytes": 1 },
              "shutdownGraceSeconds": null,
              "log": { "level": "z" }
            }
            """
        let error = try #require(Self.failure(json))
        let expected = [
            "listn", "listen", "upstream.url", "upstream.extra", "admin.token",
            "streams[0].retryMs", "streams[0].ids", "streams[0].bogus", "streams[0].varyHeaders[1]",
            "streams[1].replay.maxEvents", "streams[2]", "limits.maxHeaderBytes", "shutdownGraceSeconds", "log.level",
        ]
        #expect(error.problems.count == expected.count)
        #expect(Set(error.problems.map(\.location)) == Set(expected))
        #expect(error.description.split(separator: "\n").count == expected.count)
    }

    @Test("Problems inside one object come in reading order")
    func orderWithinAnObject() throws {
        let error = try #require(
            Self.failure(#"{"streams": [{"replay": {"maxBytes": 0, "maxEvents": 0}, "retryMs": -1, "path": "x"}]}"#))
        #expect(
            error.problems.map(\.location) == [
                "streams[0].path", "streams[0].retryMs", "streams[0].replay.maxEvents", "streams[0].replay.maxBytes",
            ])
    }

    // MARK: Malformed documents

    @Test(
        "Invalid JSON is reported against the file",
        arguments: [
            "", " ", "{", "}", #"{"listen": }"#, #"{"listen" "x"}"#, "not json", #"{'listen': "a:1"}"#,
            #"{"streams": [}"#, #"{"a": 1} {"b": 2}"#, #"{"listen": "127.0.0.1:8080""#,
        ]
    )
    func invalidJSON(json: String) throws {
        let error = try #require(Self.failure(json))
        #expect(error.source == Self.source)
        #expect(error.problems.count == 1)
        #expect(error.problems.first?.location == "(file)")
        #expect(error.problems.first?.message.hasPrefix("not valid JSON: ") == true)
        #expect(error.description.hasPrefix("\(Self.source): (file): not valid JSON: "))
    }

    @Test(
        "A top level that is not an object is rejected",
        arguments: [
            ("[]", "an array"), (#"[{"listen": "a:1"}]"#, "an array"), (#""config""#, #"the string "config""#),
            ("42", "the number 42"), ("null", "null"), ("true", "true"),
        ]
    )
    func topLevelNotObject(json: String, summary: String) throws {
        let error = try #require(Self.failure(json))
        #expect(error.problems == [.init(location: "(top level)", message: "expected an object, got \(summary)")])
    }

    // MARK: Checks across keys

    @Test(
        "Duplicate stream paths are rejected, naming the later entry and the earlier one",
        arguments: [
            (
                #"{"streams": [{"path": "/a/:id"}, {"path": "/a/:id"}]}"#, "streams[1].path",
                "same path as streams[0]: /a/:id"
            ),
            (
                #"{"streams": [{"path": "/a"}, {"path": "/b"}, {"path": "/a"}]}"#, "streams[2].path",
                "same path as streams[0]: /a"
            ),
            (
                #"{"streams": [{}, {}]}"#, "streams[1].path",
                "same path as streams[0]: /api/conversation/:conversationId/stream"
            ),
            (
                #"{"streams": [{"path": "/x"}, {"path": "/api/conversation/:conversationId/stream"}, {"retryMs": 1}]}"#,
                "streams[2].path", "same path as streams[1]"
            ),
        ]
    )
    func duplicateStreamPaths(json: String, location: String, message: String) throws {
        let error = try #require(Self.failure(json))
        #expect(error.problems.map(\.location) == [location])
        #expect(error.problems.first?.message.hasPrefix(message) == true, "\(error)")
    }

    @Test("Every duplicate is reported against the first entry with that path")
    func manyDuplicates() throws {
        let error = try #require(
            Self.failure(
                #"{"streams": [{"path": "/a"}, {"path": "/a"}, {"path": "/b"}, {"path": "/a"}, {"path": "/b"}]}"#))
        #expect(error.problems.map(\.location) == ["streams[1].path", "streams[3].path", "streams[4].path"])
        #expect(
            error.problems.map(\.message) == [
                "same path as streams[0]: /a", "same path as streams[0]: /a", "same path as streams[2]: /b",
            ])
    }

    @Test("Distinct paths, including ones that differ only by a trailing slash, are fine")
    func distinctPaths() throws {
        let configuration = try Self.load(#"{"streams": [{"path": "/a"}, {"path": "/a/"}, {"path": "/a/:id"}, {}]}"#)
        #expect(
            configuration.streams.map(\.path.description) == [
                "/a", "/a/", "/a/:id", "/api/conversation/:conversationId/stream",
            ])
    }

    @Test(
        "admin.listen must differ from listen",
        arguments: [
            (#"{"listen": "127.0.0.1:7000", "admin": {"listen": "127.0.0.1:7000"}}"#, "127.0.0.1:7000"),
            (#"{"listen": "127.0.0.1:9090"}"#, "127.0.0.1:9090"),
            (#"{"admin": {"listen": "127.0.0.1:8080"}}"#, "127.0.0.1:8080"),
            (#"{"listen": "[::1]:80", "admin": {"listen": "[::1]:80"}}"#, "[::1]:80"),
        ]
    )
    func adminEqualsListen(json: String, address: String) throws {
        let error = try #require(Self.failure(json))
        #expect(error.problems == [.init(location: "admin.listen", message: "must differ from listen (\(address))")])
    }

    @Test(
        "Listeners on different addresses, on port 0, or without an admin listener are fine",
        arguments: [
            #"{"listen": "127.0.0.1:7000", "admin": {"listen": "127.0.0.1:7001"}}"#,
            #"{"listen": "127.0.0.1:7000", "admin": {"listen": "127.0.0.2:7000"}}"#,
            #"{"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"}}"#,
            #"{"listen": "127.0.0.1:9090", "admin": {"listen": null}}"#,
        ]
    )
    func listenersApart(json: String) throws {
        let configuration = try Self.load(json)
        #expect(configuration != RelayConfiguration())
    }

    @Test(
        "Checks across keys wait for a document that is otherwise valid, so defaults that replaced bad values raise no false alarms"
    )
    func crossKeyChecksWaitForValidDocument() throws {
        // streams[0].path is bad and falls back to the default path, which streams[1] also has.
        let error = try #require(
            Self.failure(#"{"streams": [{"path": "nope"}, {}], "admin": {"listen": "127.0.0.1:8080"}}"#))
        #expect(error.problems.map(\.location) == ["streams[0].path"])
    }

    // MARK: Error description

    @Test("The description is SOURCE: LOCATION: MESSAGE, one line per problem")
    func descriptionFormat() throws {
        let error = try #require(Self.failure(#"{"streams": [{"retryMs": "2s"}], "log": {"level": 3}}"#))
        #expect(
            error.description == """
                /etc/sse-relay/relay.json: streams[0].retryMs: expected a whole number from 0 to 86400000 or null, got the string "2s"
                /etc/sse-relay/relay.json: log.level: expected one of "trace", "debug", "info", "notice", "warning", "error", "critical", got the number 3
                """)
        #expect(
            error.problems.map(\.description)
                == error.description.split(separator: "\n").map { String($0.dropFirst(Self.source.count + 2)) })
    }

    @Test("The source named in errors is the one passed in")
    func sourceIsPassedThrough() throws {
        do {
            _ = try ConfigurationLoader.load(json: Data(#"{"listen": 1}"#.utf8), source: "embedded defaults")
            Issue.record("expected an error")
        } catch {
            #expect(error.source == "embedded defaults")
            #expect(error.description == "embedded defaults: listen: expected a string, got the number 1")
        }
    }

    // MARK: Files

    private static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sse-relay-test-\(UUID().uuidString).json").path
    }

    @Test("A missing file is reported against its path")
    func missingFile() throws {
        let path = Self.temporaryPath()
        let error = try #require(
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(fileAt: path) })
        #expect(error.source == path)
        #expect(error.problems.count == 1)
        #expect(error.problems.first?.location == "(file)")
        #expect(error.problems.first?.message.hasPrefix("cannot read the file: ") == true)
        #expect(error.description.hasPrefix("\(path): (file): cannot read the file: "))
    }

    @Test("A directory is not a configuration file")
    func directoryIsNotAFile() throws {
        let path = FileManager.default.temporaryDirectory.path
        let error = try #require(
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(fileAt: path) })
        #expect(error.source == path)
        #expect(error.problems.first?.location == "(file)")
    }

    @Test("A file on disk is read and validated")
    func fileOnDisk() throws {
        let path = Self.temporaryPath()
        try Data(#"{"listen": "127.0.0.1:18080", "streams": [{"path": "/events/:id", "retryMs": null}]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try ConfigurationLoader.load(fileAt: path)
        #expect(configuration.listen == HostAndPort(host: "127.0.0.1", port: 18080))
        #expect(configuration.streams.map(\.path.description) == ["/events/:id"])
        #expect(configuration.streams.first?.retryMs == nil)
    }

    @Test("Problems in a file on disk name the file")
    func badFileOnDisk() throws {
        let path = Self.temporaryPath()
        try Data(#"{"streams": [{"retryMs": "2s"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(fileAt: path) })
        #expect(error.source == path)
        #expect(error.description.hasPrefix("\(path): streams[0].retryMs: expected a whole number"))
    }

    @Test("An empty file is invalid JSON, reported against the file")
    func emptyFile() throws {
        let path = Self.temporaryPath()
        try Data().write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(fileAt: path) })
        #expect(error.source == path)
        #expect(error.problems.first?.message.hasPrefix("not valid JSON") == true)
    }
}

@Suite("config.example.json")
struct ExampleConfigurationTests {
    @Test("the example file carries exactly the embedded defaults")
    func exampleIsTheDefaults() throws {
        // The repository root is the nearest folder above this file that holds Package.swift,
        // however deep the file sits under Tests/.
        var root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
            let parent = root.deletingLastPathComponent()
            try #require(parent.path != root.path, "no Package.swift above \(#filePath)")
            root = parent
        }
        let path = root.appendingPathComponent("config.example.json").path
        let configuration = try ConfigurationLoader.load(fileAt: path)
        #expect(configuration == RelayConfiguration())
    }
}
