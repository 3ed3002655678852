import Testing

@testable import SSERelayCore

/// `streams`: each route's keys, and the paths of all routes together.
extension ConfigurationLoaderTests {
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

    @Test(
        "A bad stream route value is reported at its key path with a reason",
        arguments: [
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
        ]
    )
    func badStreamRoute(json: String, location: String, messagePart: String) throws {
        try Self.expectBadValue(json, at: location, saying: messagePart)
    }

    // MARK: Paths across routes

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
        "Checks across keys wait for a document that is otherwise valid, so defaults that replaced bad values raise no false alarms"
    )
    func crossKeyChecksWaitForValidDocument() throws {
        // streams[0].path is bad and falls back to the default path, which streams[1] also has.
        let error = try #require(
            Self.failure(#"{"streams": [{"path": "nope"}, {}], "admin": {"listen": "127.0.0.1:8080"}}"#))
        #expect(error.problems.map(\.location) == ["streams[0].path"])
    }
}
