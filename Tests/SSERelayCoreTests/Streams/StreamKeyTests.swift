import NIOHTTP1
import Testing

@testable import SSERelayCore

@Suite("StreamKey")
struct StreamKeyTests {
    private static let credentials: HTTPHeaders = [
        "authorization": "Bearer s3cr3t-token",
        "cookie": "session=topsecretcookie",
        "origin": "https://chat.example",
    ]

    private static func key(
        _ target: String,
        headers: HTTPHeaders = credentials,
        route: StreamRouteConfiguration = .defaultRoute
    ) throws -> StreamKey {
        try #require(StreamKey(route: route, target: target, headers: headers))
    }

    private static func digest(_ headers: HTTPHeaders, route: StreamRouteConfiguration = .defaultRoute) throws
        -> String
    {
        try self.key("/api/conversation/42/stream", headers: headers, route: route).varyDigest
    }

    private static func route(_ path: String, keyIncludesQuery: Bool = true) throws -> StreamRouteConfiguration {
        var route = StreamRouteConfiguration(path: try RoutePattern(parsing: path))
        route.keyIncludesQuery = keyIncludesQuery
        return route
    }

    // MARK: Route, parameters and query

    @Test("The default route captures the conversation id and keeps the query")
    func defaultRoute() throws {
        let key = try Self.key("/api/conversation/c-42/stream?model=gpt&x=1")
        #expect(key.route == "/api/conversation/:conversationId/stream")
        #expect(key.parameters == [StreamKey.Parameter(name: "conversationId", value: "c-42")])
        #expect(key.query == "model=gpt&x=1")
    }

    @Test("Parameters are captured in pattern order")
    func parametersInOrder() throws {
        let route = try Self.route("/t/:tenant/c/:conversation/:part")
        let key = try Self.key("/t/zeta/c/alpha/m", route: route)
        #expect(key.route == "/t/:tenant/c/:conversation/:part")
        #expect(key.parameters.map(\.name) == ["tenant", "conversation", "part"])
        #expect(key.parameters.map(\.value) == ["zeta", "alpha", "m"])
        #expect(key.query == "")
    }

    @Test("Swapped parameter values make different keys")
    func swappedParameters() throws {
        let route = try Self.route("/:a/:b")
        #expect(try Self.key("/x/y", route: route) != Self.key("/y/x", route: route))
    }

    @Test(
        "The query is part of the key when keyIncludesQuery is on",
        arguments: [
            ("/api/conversation/42/stream", ""),
            ("/api/conversation/42/stream?", ""),
            ("/api/conversation/42/stream?a=1", "a=1"),
            ("/api/conversation/42/stream?a=1&b=2", "a=1&b=2"),
            ("/api/conversation/42/stream?a=1?b", "a=1?b"),
        ])
    func queryIncluded(target: String, query: String) throws {
        let key = try Self.key(target)
        #expect(key.query == query)
        #expect(key.parameters == [StreamKey.Parameter(name: "conversationId", value: "42")])
    }

    @Test("Different queries make different keys when keyIncludesQuery is on")
    func differentQueriesDiffer() throws {
        #expect(try Self.key("/api/conversation/42/stream?a=1") != Self.key("/api/conversation/42/stream?a=2"))
        #expect(try Self.key("/api/conversation/42/stream?a=1") != Self.key("/api/conversation/42/stream"))
    }

    @Test("The query is left out when keyIncludesQuery is off")
    func queryExcluded() throws {
        let route = try Self.route("/api/conversation/:conversationId/stream", keyIncludesQuery: false)
        let withQuery = try Self.key("/api/conversation/42/stream?a=1", route: route)
        let other = try Self.key("/api/conversation/42/stream?a=2", route: route)
        let without = try Self.key("/api/conversation/42/stream", route: route)
        #expect(withQuery.query == "")
        #expect(withQuery == other)
        #expect(withQuery == without)
        #expect(withQuery.parameters == [StreamKey.Parameter(name: "conversationId", value: "42")])
    }

    @Test(
        "Paths that do not match the route have no key",
        arguments: [
            "/api/conversation/42", "/api/conversation/42/stream/", "/api/conversation/42/streams",
            "/api/conversation//stream", "/api/conversation/42/stream/extra", "api/conversation/42/stream",
            "/API/conversation/42/stream", "/api/conversation/stream", "/api/conversation/42?x=/stream", "", "/",
            "?/api/conversation/42/stream",
        ])
    func nonMatchingPaths(target: String) {
        #expect(StreamKey(route: .defaultRoute, target: target, headers: Self.credentials) == nil)
    }

    @Test("Different conversations make different keys")
    func differentConversations() throws {
        #expect(try Self.key("/api/conversation/1/stream") != Self.key("/api/conversation/2/stream"))
    }

    // MARK: Vary digest

    @Test("The digest is SHA-256 over each name and value, length-prefixed, as documented")
    func digestConstruction() {
        // Python: h = sha256(); for n, vs in [("authorization", ["Bearer a"]), ("cookie", ["s=1", "t=2"])]:
        //   h.update(f"{len(n)}:{n}{len(vs)};".encode()); [h.update(f"{len(v)}:{v}".encode()) for v in vs]
        let (digest, headers) = StreamKey.digest(of: [("authorization", ["Bearer a"]), ("cookie", ["s=1", "t=2"])])
        #expect(digest == "4308db7c4870b977c890ed052fbcb7dbe67576f5a1694e4dc36e5a9421f506f9")
        #expect(headers.map(\.name) == ["authorization", "cookie"])
    }

    @Test("Lengths and counts are spelled as String(_:) spells them")
    func decimalDigits() {
        let values = Array(0...1_100) + [9_999, 10_000, 65_535, 1 << 32, Int.max / 10, Int.max - 1, Int.max]
        for value in values {
            var piece: [UInt8] = [UInt8(ascii: "x")]
            StreamKey.appendDecimal(value, to: &piece)
            #expect(piece == Array("x\(value)".utf8))
        }
    }

    @Test("The digest is 64 lowercase hex digits", arguments: [HTTPHeaders(), credentials])
    func digestShape(headers: HTTPHeaders) throws {
        let digest = try Self.digest(headers)
        #expect(digest.utf8.count == 64)
        #expect(digest.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    }

    @Test("Identical vary header values make equal keys")
    func identicalValues() throws {
        let first = try Self.key("/api/conversation/42/stream", headers: Self.credentials)
        let second = try Self.key(
            "/api/conversation/42/stream",
            headers: [
                "origin": "https://chat.example", "cookie": "session=topsecretcookie",
                "authorization": "Bearer s3cr3t-token",
            ])
        #expect(first.varyDigest == second.varyDigest)
        #expect(first == second)
    }

    @Test(
        "A different value of any vary header makes a different key", arguments: ["authorization", "cookie", "origin"])
    func anyVaryHeaderDiffers(name: String) throws {
        var changed = Self.credentials
        changed.replaceOrAdd(name: name, value: changed.first(name: name)! + "x")
        #expect(try Self.digest(changed) != Self.digest(Self.credentials))
        #expect(
            try Self.key("/api/conversation/42/stream", headers: changed) != Self.key("/api/conversation/42/stream"))

        var removed = Self.credentials
        removed.remove(name: name)
        #expect(try Self.digest(removed) != Self.digest(Self.credentials))
    }

    @Test("Headers that are not vary headers do not change the key")
    func nonVaryHeadersIgnored() throws {
        var noisy = Self.credentials
        noisy.add(name: "last-event-id", value: "aaaaaaaaaaaaaaaa-3")
        noisy.add(name: "user-agent", value: "Mozilla/5.0")
        noisy.add(name: "accept", value: "text/event-stream")
        noisy.add(name: "x-forwarded-for", value: "203.0.113.9")
        #expect(try Self.digest(noisy) == Self.digest(Self.credentials))
        #expect(try Self.key("/api/conversation/42/stream", headers: noisy) == Self.key("/api/conversation/42/stream"))
    }

    @Test("Header name case does not matter")
    func headerNameCase() throws {
        let mixed: HTTPHeaders = [
            "Authorization": "Bearer s3cr3t-token", "COOKIE": "session=topsecretcookie",
            "oRiGiN": "https://chat.example",
        ]
        #expect(try Self.digest(mixed) == Self.digest(Self.credentials))
    }

    @Test("Header value case matters")
    func headerValueCase() throws {
        #expect(try Self.digest(["authorization": "Bearer abc"]) != Self.digest(["authorization": "Bearer ABC"]))
    }

    @Test("Values split differently between headers make different digests")
    func valueSplits() throws {
        #expect(
            try Self.digest(["authorization": "ab", "cookie": "c"])
                != Self.digest(["authorization": "a", "cookie": "bc"]))
        #expect(try Self.digest(["cookie": "ab", "origin": "c"]) != Self.digest(["cookie": "a", "origin": "bc"]))
        // The same value under a different vary header.
        #expect(try Self.digest(["authorization": "x"]) != Self.digest(["cookie": "x"]))
        #expect(try Self.digest(["cookie": "x"]) != Self.digest(["origin": "x"]))
    }

    @Test("An absent header differs from one present but empty", arguments: ["authorization", "cookie", "origin"])
    func absentDiffersFromEmpty(name: String) throws {
        let empty = HTTPHeaders([(name, "")])
        let emptyDigest = try Self.digest(empty)
        let absentDigest = try Self.digest([:])
        #expect(emptyDigest != absentDigest)
    }

    @Test(
        "Values that differ only in commas or the spaces between them make different digests",
        arguments: [
            ("Bearer a,b", "Bearer a, b"),
            ("session=x,y", "session=x,,y"),
        ])
    func commaAndSpaceVariants(first: String, second: String) throws {
        let firstDigest = try Self.digest(["authorization": first])
        let secondDigest = try Self.digest(["authorization": second])
        #expect(firstDigest != secondDigest)
    }

    @Test("One header with many values cannot pose as one header with one value")
    func valueCountIsDelimited() throws {
        // Without a delimiter after the value count, these two would hash the same input:
        // "1:x" + "1" + "91:" + V  ==  "1:x" + "19" + "1:" + "z" + "3:abc" × 18.
        var route = StreamRouteConfiguration.defaultRoute
        route.varyHeaders = ["x"]
        let single = try Self.digest(["x": "z" + String(repeating: "3:abc", count: 18)], route: route)
        let many = try Self.digest(HTTPHeaders([("x", "z")] + Array(repeating: ("x", "abc"), count: 18)), route: route)
        #expect(single != many)
    }

    @Test("Only the route's own varyHeaders count")
    func customVaryHeaders() throws {
        var route = StreamRouteConfiguration.defaultRoute
        route.varyHeaders = ["x-tenant"]
        #expect(
            try Self.digest(["x-tenant": "a", "authorization": "one"], route: route)
                == Self.digest(["x-tenant": "a", "authorization": "two"], route: route))
        #expect(try Self.digest(["x-tenant": "a"], route: route) != Self.digest(["x-tenant": "b"], route: route))

        route.varyHeaders = []
        #expect(try Self.digest(Self.credentials, route: route) == Self.digest([:], route: route))
    }

    // MARK: Equality, hashing, description

    @Test("Keys with equal fields are equal and hash equally")
    func hashing() throws {
        let parsed = try Self.key("/api/conversation/42/stream?a=1")
        let built = StreamKey(
            route: "/api/conversation/:conversationId/stream",
            parameters: [StreamKey.Parameter(name: "conversationId", value: "42")],
            query: "a=1",
            varyDigest: parsed.varyDigest
        )
        #expect(parsed == built)
        #expect(parsed.hashValue == built.hashValue)

        let keys: Set<StreamKey> = try [
            parsed, built, Self.key("/api/conversation/42/stream?a=1"),
            Self.key("/api/conversation/43/stream?a=1"),
            Self.key("/api/conversation/42/stream?a=1", headers: [:]),
        ]
        #expect(keys.count == 3)
        #expect(keys.contains(built))
    }

    @Test("Keys differing in any one field differ")
    func everyFieldCounts() {
        let base = StreamKey(
            route: "/r/:id", parameters: [StreamKey.Parameter(name: "id", value: "1")], query: "q", varyDigest: "d")
        var route = base
        route.route = "/s/:id"
        var parameter = base
        parameter.parameters = [StreamKey.Parameter(name: "id", value: "2")]
        var name = base
        name.parameters = [StreamKey.Parameter(name: "other", value: "1")]
        var query = base
        query.query = "r"
        var digest = base
        digest.varyDigest = "e"
        let all: Set<StreamKey> = [base, route, parameter, name, query, digest]
        #expect(all.count == 6)
    }

    @Test("The description shows route, parameters and query but no credential")
    func descriptionHidesCredentials() throws {
        let key = try Self.key("/api/conversation/42/stream?a=1")
        let description = key.description
        #expect(description.contains("/api/conversation/:conversationId/stream"))
        #expect(description.contains("conversationId=42"))
        #expect(description.contains("a=1"))
        #expect(description.contains(key.varyDigest.prefix(12)))
        for secret in ["s3cr3t", "Bearer", "topsecretcookie", "session="] {
            #expect(!description.contains(secret), "\(secret)")
        }
        #expect(!description.contains(key.varyDigest))
    }
}
