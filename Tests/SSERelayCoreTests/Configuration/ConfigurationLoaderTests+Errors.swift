import Foundation
import Testing

@testable import SSERelayCore

/// What a document with problems gets: unknown keys, every problem in one pass, malformed JSON,
/// and the error's text.
extension ConfigurationLoaderTests {
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
            (#"{"x": 1}"#, "admin, cluster, limits, listen, log, shutdownGraceSeconds, streams, upstream"),
            (
                #"{"upstream": {"x": 1}}"#,
                "connectTimeoutSeconds, health, idleTimeoutSeconds, maxConnections, resolveIntervalSeconds, responseTimeoutSeconds, servers, tls, url"
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
              "upstream": { "url": "ftp://a", "extra": 1 },
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
}
