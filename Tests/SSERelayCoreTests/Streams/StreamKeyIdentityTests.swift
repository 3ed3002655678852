import NIOHTTP1
import Testing

@testable import SSERelayCore

/// Which headers make a stream key under the default rule, `ignoreHeaders` and an explicit
/// `varyHeaders`; what a key can say about the headers in it; and keys of normalised targets.
@Suite("StreamKey identity")
struct StreamKeyIdentityTests {
    private static let path = "/api/conversation/42/stream"

    private static func key(
        _ headers: HTTPHeaders,
        target: String = path,
        route: StreamRouteConfiguration = .defaultRoute,
        redaction: QueryRedaction = .standard
    ) throws -> StreamKey {
        try #require(StreamKey(route: route, target: target, headers: headers, redaction: redaction))
    }

    private static let browser: HTTPHeaders = [
        "Host": "chat.example", "Accept": "text/event-stream", "Cookie": "session=alice",
        "Origin": "https://chat.example",
    ]

    private static func adding(_ name: String, _ value: String, to headers: HTTPHeaders = browser) -> HTTPHeaders {
        var headers = headers
        headers.add(name: name, value: value)
        return headers
    }

    // MARK: The default rule

    @Test(
        "A credential in any header makes a different key",
        arguments: ["X-API-Key", "X-Auth-Token", "X-User", "Proxy-Authorization", "Authorization", "X-Tenant"])
    func anyHeaderCarriesIdentity(name: String) throws {
        let alice = try Self.key(Self.adding(name, "alice-secret"))
        let bob = try Self.key(Self.adding(name, "bob-secret"))
        let none = try Self.key(Self.browser)
        #expect(alice != bob)
        #expect(alice != none)
        #expect(alice == (try Self.key(Self.adding(name, "alice-secret"))))
        #expect(alice.headersDiffering(from: bob) == [name.lowercased()])
        #expect(alice.headersDiffering(from: none) == [name.lowercased()])
    }

    /// Each entry of both default lists, with a value for it; prefixes with a name under them.
    private static var excludedExamples: [String] {
        StreamIdentityHeaders.excludedByDefault.map { $0.hasSuffix("*") ? $0.dropLast() + "example" : $0 }
    }

    @Test("No header of the default lists changes the key")
    func defaultListsIgnored() throws {
        let base = try Self.key(Self.browser)
        for name in Self.excludedExamples {
            let key = try Self.key(Self.adding(name, "value-\(name)"))
            #expect(key == base, "\(name)")
            #expect(!key.headerNames.contains(name), "\(name)")
        }
    }

    @Test("Requests that differ only in X-Request-ID and traceparent share a key")
    func tracingHeadersShareKey() throws {
        let first = try Self.key(
            Self.adding(
                "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                to: Self.adding("X-Request-ID", "1")))
        let second = try Self.key(
            Self.adding(
                "traceparent", "00-1bf7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01",
                to: Self.adding("X-Request-ID", "2")))
        #expect(first == second)
    }

    @Test("The two lists hold what they promise")
    func listContents() {
        for name in ["accept", "last-event-id", "sec-fetch-*", "host", "connection", "user-agent"] {
            #expect(StreamIdentityHeaders.withoutIdentity.contains(name))
        }
        for name in ["x-request-id", "traceparent", "x-forwarded-*", "forwarded", "via", "cf-ray", "x-datadog-*"] {
            #expect(StreamIdentityHeaders.perRequest.contains(name))
        }
        for credential in ["authorization", "proxy-authorization", "cookie", "origin", "x-api-key"] {
            #expect(!StreamIdentityHeaders.isExcludedByDefault(credential), "\(credential)")
        }
        #expect(StreamIdentityHeaders.isExcludedByDefault("sec-ch-ua-platform"))
        #expect(StreamIdentityHeaders.isExcludedByDefault("x-b3-traceid"))
    }

    @Test("Header order and name case do not matter; values and their order under one name do")
    func orderAndCase() throws {
        let forward = try Self.key(["x-a": "1", "X-B": "2"])
        let backward = try Self.key(["x-b": "2", "X-A": "1"])
        #expect(forward == backward)
        #expect(forward.headerNames == ["x-a", "x-b"])

        let twoValues = try Self.key(HTTPHeaders([("x-a", "1"), ("x-b", "2"), ("X-A", "3")]))
        let swapped = try Self.key(HTTPHeaders([("x-a", "3"), ("x-b", "2"), ("X-A", "1")]))
        #expect(twoValues != swapped)
        #expect(twoValues.headersDiffering(from: swapped) == ["x-a"])
        #expect(try Self.key(["x-a": "1"]) != Self.key(["x-a": "1, 1"]))
        #expect(try Self.key(["x-a": ""]) != Self.key([:]))
    }

    // MARK: ignoreHeaders and varyHeaders

    @Test("ignoreHeaders keeps names and prefixes out of the key")
    func ignoreHeaders() throws {
        var route = StreamRouteConfiguration.defaultRoute
        route.ignoreHeaders = ["x-my-trace", "x-edge-*"]
        let first = try Self.key(
            ["x-my-trace": "1", "x-edge-id": "a", "x-edge-pop": "fra", "x-api-key": "k"], route: route)
        let second = try Self.key(["x-my-trace": "2", "x-edge-id": "b", "x-api-key": "k"], route: route)
        #expect(first == second)
        #expect(first.headerNames == ["x-api-key"])
        #expect(try Self.key(["x-my-trace-id": "1"], route: route) != Self.key(["x-my-trace-id": "2"], route: route))
    }

    @Test("An explicit varyHeaders narrows the key to exactly those headers, absent ones included")
    func explicitVaryHeaders() throws {
        var route = StreamRouteConfiguration.defaultRoute
        route.varyHeaders = ["Authorization", "x-tenant", "authorization"]
        let alice = try Self.key(["authorization": "a", "x-api-key": "1"], route: route)
        let sameUser = try Self.key(["Authorization": "a", "x-api-key": "2"], route: route)
        #expect(alice == sameUser)
        #expect(alice.headerNames == ["authorization", "x-tenant"])
        let tenant = try Self.key(["authorization": "a", "x-tenant": ""], route: route)
        #expect(alice.headersDiffering(from: tenant) == ["x-tenant"])
    }

    // MARK: headersDiffering and equality

    @Test("headersDiffering names headers present in one key only or with other values, sorted")
    func headersDiffering() throws {
        let left = try Self.key(["a": "1", "b": "2", "c": "3", "e": "5"])
        let right = try Self.key(["b": "2", "c": "x", "d": "4", "e": "5"])
        #expect(left.headersDiffering(from: right) == ["a", "c", "d"])
        #expect(right.headersDiffering(from: left) == ["a", "c", "d"])
        #expect(left.headersDiffering(from: left) == [])
        #expect(try Self.key([:]).headersDiffering(from: left) == ["a", "b", "c", "e"])
    }

    @Test("Keys of one resource kept apart by headers have equal resources")
    func resource() throws {
        let alice = try Self.key(["x-api-key": "a"], target: "/api/conversation/42/stream?b=2&a=1")
        let bob = try Self.key(["x-api-key": "b"], target: "/api/conversation//42/stream?a=1&b=2")
        let other = try Self.key(["x-api-key": "a"], target: "/api/conversation/43/stream?a=1&b=2")
        #expect(alice != bob)
        #expect(alice.resource == bob.resource)
        #expect(alice.resource != other.resource)
        #expect(alice.headersDiffering(from: bob) == ["x-api-key"])
    }

    @Test("Keys are equal and hash equally by route, parameters, query and digest alone")
    func equalityIsCheap() throws {
        let parsed = try Self.key(["x-api-key": "k"])
        let built = StreamKey(
            route: parsed.route, parameters: parsed.parameters, query: parsed.query, varyDigest: parsed.varyDigest)
        #expect(built.headers.isEmpty)
        #expect(parsed == built)
        #expect(parsed.hashValue == built.hashValue)
    }

    // MARK: Targets

    @Test(
        "Spellings of one stream share its key",
        arguments: [
            "/api/conversation/X/../X/stream", "/api/conversation/../conversation/X/stream",
            "//api/conversation/X/stream", "/api/conversation/%58/stream", "/api/./conversation/X/stream",
            "/api/conversation/X/%2e%2e/X/stream",
        ])
    func pathVariants(target: String) throws {
        let variant = try Self.key(Self.browser, target: target + "?b=2&a=1")
        let plain = try Self.key(Self.browser, target: "/api/conversation/X/stream?a=1&b=2")
        #expect(variant == plain)
        #expect(variant.parameters == [StreamKey.Parameter(name: "conversationId", value: "X")])
        #expect(variant.query == "a=1&b=2")
    }

    @Test("The shown query and the description never hold a redacted parameter's value")
    func redactedQuery() throws {
        let key = try Self.key(Self.browser, target: "/api/conversation/X/stream?token=SECRET&model=m&Sig=S2")
        #expect(key.query == "Sig=S2&model=m&token=SECRET")
        #expect(key.shownQuery == "Sig=[redacted]&model=m&token=[redacted]")
        #expect(key.description.contains("model=m"))
        #expect(!key.description.contains("SECRET"))
        #expect(!key.description.contains("S2"))

        let custom = try Self.key(
            Self.browser, target: "/api/conversation/X/stream?token=T&model=m",
            redaction: QueryRedaction(names: ["MODEL"]))
        #expect(custom.shownQuery == "model=[redacted]&token=T")
    }
}
