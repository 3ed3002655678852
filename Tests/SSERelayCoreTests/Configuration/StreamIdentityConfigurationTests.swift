import Foundation
import Testing

@testable import SSERelayCore

/// The keys that decide a stream's identity and what of a request is shown:
/// `streams[].varyHeaders`, `streams[].ignoreHeaders`, `streams[].privateResponseHeaders` and
/// `log.redactQueryParameters`.
@Suite("Stream identity configuration")
struct StreamIdentityConfigurationTests {
    private static func load(_ json: String) throws(ConfigurationError) -> RelayConfiguration {
        try ConfigurationLoader.load(json: Data(json.utf8), source: "relay.json")
    }

    @Test("The defaults: the default key rule, Set-Cookie private, the credential-like query parameters redacted")
    func defaults() throws {
        let configuration = try Self.load("{}")
        let route = try #require(configuration.streams.first)
        #expect(route.varyHeaders == nil)
        #expect(route.ignoreHeaders == [])
        #expect(route.privateResponseHeaders == ["set-cookie", "set-cookie2"])
        #expect(configuration.log.redactQueryParameters == QueryRedaction.defaultNames)
        #expect(configuration.log.queryRedaction == .standard)
    }

    @Test("Every key read, names lowercased, null varyHeaders the default rule")
    func everyKey() throws {
        let configuration = try Self.load(
            """
            {
              "streams": [
                { "ignoreHeaders": ["X-My-Trace", "X-Edge-*"], "privateResponseHeaders": ["Set-Cookie", "X-Session"] },
                { "path": "/b/:id", "varyHeaders": ["Authorization", "X-Tenant"], "privateResponseHeaders": [] },
                { "path": "/c/:id", "varyHeaders": null }
              ],
              "log": { "redactQueryParameters": ["Ticket", "token"] }
            }
            """)
        let routes = configuration.streams
        #expect(routes[0].varyHeaders == nil)
        #expect(routes[0].ignoreHeaders == ["x-my-trace", "x-edge-*"])
        #expect(routes[0].privateResponseHeaders == ["set-cookie", "x-session"])
        #expect(routes[1].varyHeaders == ["authorization", "x-tenant"])
        #expect(routes[1].privateResponseHeaders == [])
        #expect(routes[2].varyHeaders == nil)
        #expect(configuration.log.redactQueryParameters == ["ticket", "token"])
        #expect(configuration.log.queryRedaction.redacting(target: "/x?TICKET=1&key=2") == "/x?TICKET=[redacted]&key=2")
    }

    @Test(
        "Bad values are reported with their key path",
        arguments: [
            (
                #"{"streams": [{"varyHeaders": 5}]}"#, "streams[0].varyHeaders",
                "expected an array or null, got the number 5"
            ),
            (#"{"streams": [{"ignoreHeaders": null}]}"#, "streams[0].ignoreHeaders", "expected an array, got null"),
            (
                #"{"streams": [{"ignoreHeaders": ["x-a", "*"]}]}"#, "streams[0].ignoreHeaders[1]",
                #"expected a header name or a prefix such as x-trace-*, got the string "*""#
            ),
            (#"{"streams": [{"ignoreHeaders": ["a b*"]}]}"#, "streams[0].ignoreHeaders[0]", "expected a header name"),
            (#"{"streams": [{"ignoreHeaders": [3]}]}"#, "streams[0].ignoreHeaders[0]", "got the number 3"),
            (
                #"{"streams": [{"varyHeaders": ["cookie"], "ignoreHeaders": ["x-a"]}]}"#, "streams[0].ignoreHeaders",
                "has no effect with a varyHeaders list"
            ),
            (
                #"{"streams": [{"privateResponseHeaders": "set-cookie"}]}"#, "streams[0].privateResponseHeaders",
                #"expected an array, got the string "set-cookie""#
            ),
            (
                #"{"streams": [{"privateResponseHeaders": ["set-cookie", "x:y"]}]}"#,
                "streams[0].privateResponseHeaders[1]", "expected a header name"
            ),
            (#"{"log": {"redactQueryParameters": "token"}}"#, "log.redactQueryParameters", "expected an array"),
            (
                #"{"log": {"redactQueryParameters": ["token", ""]}}"#, "log.redactQueryParameters[1]",
                #"expected a query parameter name, got the string """#
            ),
        ])
    func badValues(json: String, path: String, message: String) throws {
        let error = try #require(#expect(throws: ConfigurationError.self) { try Self.load(json) })
        #expect(error.problems.map(\.location) == [path])
        #expect(error.problems.first?.message.contains(message) == true, "\(error.problems)")
    }

    @Test("The key rule in words, as check-config prints it")
    func keyRuleDescription() {
        var route = StreamRouteConfiguration.defaultRoute
        route.ignoreHeaders = ["x-my-trace"]
        let rule = route.keyRuleDescription
        #expect(rule.hasPrefix("every request header except accept, accept-encoding, "))
        #expect(rule.contains("x-forwarded-*"))
        #expect(rule.hasSuffix(", x-my-trace"))

        route.varyHeaders = ["x-tenant", "authorization"]
        #expect(route.keyRuleDescription == "only authorization, x-tenant (varyHeaders)")
        route.varyHeaders = []
        #expect(route.keyRuleDescription.hasPrefix("no request header"))
    }
}
