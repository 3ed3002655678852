import Testing

@testable import SSERelayCore

@Suite("RoutePattern")
struct RoutePatternTests {
    // MARK: Parsing

    @Test(
        "Parses patterns into literal and parameter segments",
        arguments: [
            (
                "/api/conversation/:conversationId/stream",
                [
                    RoutePattern.Segment.literal("api"), .literal("conversation"), .parameter("conversationId"),
                    .literal("stream"),
                ]
            ),
            ("/", [.literal("")]),
            ("/events", [.literal("events")]),
            ("/events/", [.literal("events"), .literal("")]),
            ("/:id", [.parameter("id")]),
            ("/a/:first/b/:second_2", [.literal("a"), .parameter("first"), .literal("b"), .parameter("second_2")]),
            ("/a//b", [.literal("a"), .literal(""), .literal("b")]),
            ("/v1.0/a-b~c/x:y", [.literal("v1.0"), .literal("a-b~c"), .literal("x:y")]),
        ]
    )
    func parses(text: String, segments: [RoutePattern.Segment]) throws {
        let pattern = try RoutePattern(parsing: text)
        #expect(pattern.segments == segments)
        #expect(pattern.description == text)
    }

    @Test("The embedded default equals its parsed text")
    func conversationStreamMatchesItsText() throws {
        let parsed = try RoutePattern(parsing: "/api/conversation/:conversationId/stream")
        #expect(parsed == RoutePattern.conversationStream)
        #expect(RoutePattern.conversationStream.description == "/api/conversation/:conversationId/stream")
    }

    @Test(
        "Rejects bad patterns with a message that says why",
        arguments: [
            ("", "expected a path starting with /"),
            ("api/stream", "expected a path starting with /"),
            ("*", "expected a path starting with /"),
            ("/a/:", "parameter names are letters, digits and _"),
            ("/a/:b-c", "parameter names are letters, digits and _"),
            ("/a/:b.c", "parameter names are letters, digits and _"),
            ("/a/::b", "parameter names are letters, digits and _"),
            ("/:id/x/:id", "parameter :id appears twice"),
            ("/stream?x=1", "no query, fragment or space"),
            ("/stream#top", "no query, fragment or space"),
            ("/my stream", "no query, fragment or space"),
        ]
    )
    func rejects(text: String, messagePart: String) {
        let error = #expect(throws: RoutePatternError.self) { try RoutePattern(parsing: text) }
        #expect(error?.message.contains(messagePart) == true, "\(String(describing: error))")
    }

    // MARK: Matching

    static let conversation = RoutePattern.conversationStream

    @Test(
        "Matches the conversation route and captures the id",
        arguments: [
            ("/api/conversation/42/stream", "42"),
            ("/api/conversation/abc-DEF_0/stream", "abc-DEF_0"),
            ("/api/conversation/a%2Fb/stream", "a%2Fb"),
            ("/api/conversation/:conversationId/stream", ":conversationId"),
            ("/api/conversation/with.dots/stream", "with.dots"),
            ("/api/conversation/été/stream", "été"),
        ]
    )
    func matchesConversation(path: String, id: String) throws {
        let captures = try #require(Self.conversation.match(path: Substring(path)))
        #expect(captures.map(\.name) == ["conversationId"])
        #expect(captures.map(\.value) == [id])
    }

    @Test(
        "Does not match other paths",
        arguments: [
            "",
            "api/conversation/42/stream",
            "/",
            "/api",
            "/api/conversation",
            "/api/conversation/",
            "/api/conversation/42",
            "/api/conversation/42/",
            "/api/conversation/42/stream/",
            "/api/conversation/42/stream/extra",
            "/api/conversation//stream",
            "/api//conversation/42/stream",
            "//api/conversation/42/stream",
            "/api/conversation/42//stream",
            "/API/conversation/42/stream",
            "/api/conversation/42/Stream",
            "/api/conversations/42/stream",
            "/api/conversation/42/streams",
            "/api/conversation/42/stream?x=1",
            "/prefix/api/conversation/42/stream",
            // A combining mark after a separator leaves the separator a separator.
            "/api/conversation/42/\u{301}stream",
            "/api/\u{301}conversation/42/stream",
        ]
    )
    func doesNotMatchConversation(path: String) {
        #expect(Self.conversation.match(path: Substring(path)) == nil)
    }

    @Test("Captures several parameters in pattern order")
    func capturesSeveralParameters() throws {
        let pattern = try RoutePattern(parsing: "/t/:tenant/c/:conversation/:part")
        let captures = try #require(pattern.match(path: "/t/acme/c/7/tail"))
        #expect(captures.map(\.name) == ["tenant", "conversation", "part"])
        #expect(captures.map(\.value) == ["acme", "7", "tail"])
        #expect(pattern.match(path: "/t/acme/c/7") == nil)
        #expect(pattern.match(path: "/t/acme/c/7/") == nil)
        #expect(pattern.match(path: "/t/acme/x/7/tail") == nil)
    }

    @Test(
        "Literal-only patterns, trailing slashes and empty segments must match exactly",
        arguments: [
            ("/", "/", true),
            ("/", "", false),
            ("/", "//", false),
            ("/", "/a", false),
            ("/events", "/events", true),
            ("/events", "/events/", false),
            ("/events", "/event", false),
            ("/events", "/eventsx", false),
            ("/events", "/", false),
            ("/events/", "/events/", true),
            ("/events/", "/events", false),
            ("/events/", "/events/x", false),
            ("/a//b", "/a//b", true),
            ("/a//b", "/a/b", false),
            ("/a//b", "/a/x/b", false),
            ("/:id", "/x", true),
            ("/:id", "/", false),
            ("/:id", "/x/", false),
            ("/:id", "/x/y", false),
            ("/a/:id/", "/a/x/", true),
            ("/a/:id/", "/a/x", false),
            ("/a/:id/", "/a//", false),
        ]
    )
    func exactMatching(pattern: String, path: String, matches: Bool) throws {
        let route = try RoutePattern(parsing: pattern)
        #expect((route.match(path: Substring(path)) != nil) == matches)
    }

    @Test("A substring of a larger string (the target without its query) is matched on its own")
    func matchesSubstringOfRequestTarget() throws {
        let target = "/api/conversation/9/stream?token=abc"
        let queryStart = try #require(target.firstIndex(of: "?"))
        let path = target[..<queryStart]
        let captures = try #require(Self.conversation.match(path: path))
        #expect(captures.map(\.value) == ["9"])
        #expect(Self.conversation.match(path: target[...]) == nil)
    }
}
