import Testing

@testable import SSERelayCore

/// `upstream`: its URL (or the URL alone as a string), timeouts and connection limit.
extension ConfigurationLoaderTests {
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

    @Test(
        "A bad upstream value is reported at its key path with a reason",
        arguments: [
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
        ]
    )
    func badUpstream(json: String, location: String, messagePart: String) throws {
        try Self.expectBadValue(json, at: location, saying: messagePart)
    }
}
