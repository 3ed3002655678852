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

    @Test("https:// URLs: port 443 by default, left out of Host and the description; TLS settings read")
    func httpsUpstream() throws {
        let url = try Self.load(#"{"upstream": "https://Backend.example"}"#).upstream.url
        #expect(url == UpstreamURL(scheme: .https, host: "Backend.example", port: 443))
        #expect(url.hostHeader == "Backend.example")
        #expect(url.description == "https://Backend.example")
        let other = try Self.load(#"{"upstream": "HTTPS://backend:8443/"}"#).upstream.url
        #expect(other.description == "https://backend:8443")
        #expect(try Self.load(#"{"upstream": "http://backend:443"}"#).upstream.url.hostHeader == "backend:443")
        let tls = try Self.load(
            #"{"upstream": {"url": "https://b", "tls": {"caFile": "/etc/ca.pem", "insecureSkipVerify": true}}}"#
        ).upstream.tls
        #expect(tls.caFile == "/etc/ca.pem")
        #expect(tls.insecureSkipVerify)
        #expect(try Self.load("{}").upstream.tls == UpstreamTLSConfiguration())
    }

    @Test(
        "A bad upstream value is reported at its key path with a reason",
        arguments: [
            (#"{"upstream": 3000}"#, "upstream", "expected an object, got the number 3000"),
            (#"{"upstream": null}"#, "upstream", "expected an object, got null"),
            (#"{"upstream": ["http://a"]}"#, "upstream", "expected an object, got an array"),
            (
                #"{"upstream": "ftp://backend"}"#, "upstream",
                #"expected an http:// or https:// URL such as http://127.0.0.1:3000, got the string "ftp://backend""#
            ),
            (#"{"upstream": "backend:3000"}"#, "upstream", "expected an http:// or https:// URL"),
            (#"{"upstream": "http://backend/api"}"#, "upstream", "no path"),
            (#"{"upstream": {"url": "gopher://backend"}}"#, "upstream.url", "expected an http:// or https:// URL"),
            (#"{"upstream": {"tls": {"caFile": ""}}}"#, "upstream.tls.caFile", "expected a path to a PEM file"),
            (#"{"upstream": {"tls": {"caFile": 3}}}"#, "upstream.tls.caFile", "expected a string or null"),
            (
                #"{"upstream": {"tls": {"insecureSkipVerify": "yes"}}}"#, "upstream.tls.insecureSkipVerify",
                "expected true or false"
            ),
            (#"{"upstream": {"tls": {"verify": false}}}"#, "upstream.tls.verify", "unknown key"),
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
