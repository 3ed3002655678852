import Foundation
import Testing

@testable import SSERelayCore

/// The configuration file as ``ConfigurationLoader`` reads it: every key, its default, its
/// range and the message a bad value gets. The suite's tests are spread over one file per
/// section of the file (`ConfigurationLoaderTests+Upstream.swift`, …); this one holds the
/// defaults, whole documents and `null`.
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

    /// Records an issue unless loading `json` fails with exactly one problem, at `location`,
    /// whose message contains `messagePart`.
    static func expectBadValue(
        _ json: String, at location: String, saying messagePart: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let error = try #require(Self.failure(json, sourceLocation: sourceLocation), sourceLocation: sourceLocation)
        #expect(error.source == Self.source, sourceLocation: sourceLocation)
        #expect(error.problems.map(\.location) == [location], sourceLocation: sourceLocation)
        #expect(
            error.problems.first?.message.contains(messagePart) == true, "\(error)", sourceLocation: sourceLocation)
    }

    // MARK: Defaults

    @Test("The empty object gives exactly the embedded defaults", arguments: ["{}", " { } ", "\n{\n}\n"])
    func emptyObjectIsDefaults(json: String) throws {
        #expect(try Self.load(json) == RelayConfiguration())
    }

    @Test("The embedded defaults, key by key")
    func embeddedDefaults() throws {
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

    @Test("A document that spells out every default loads to the embedded defaults")
    func spelledOutDefaults() throws {
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

    // MARK: shutdownGraceSeconds

    @Test(
        "A bad shutdownGraceSeconds is reported with a reason",
        arguments: [
            (
                #"{"shutdownGraceSeconds": -1}"#, "shutdownGraceSeconds",
                "expected a number of seconds from 0 to 86400, got the number -1"
            ),
            (#"{"shutdownGraceSeconds": "120"}"#, "shutdownGraceSeconds", #"got the string "120""#),
        ]
    )
    func badShutdownGrace(json: String, location: String, messagePart: String) throws {
        try Self.expectBadValue(json, at: location, saying: messagePart)
    }
}
