import Testing

@testable import SSERelayCore

@Suite("UpstreamURL")
struct UpstreamURLTests {
    @Test(
        "Parses http:// origins, port 80 by default",
        arguments: [
            ("http://127.0.0.1:3000", "127.0.0.1", 3000),
            ("http://127.0.0.1:3000/", "127.0.0.1", 3000),
            ("http://localhost", "localhost", 80),
            ("http://localhost/", "localhost", 80),
            ("http://backend.internal:8081", "backend.internal", 8081),
            ("HTTP://Backend:3000", "Backend", 3000),
            ("Http://backend", "backend", 80),
            ("http://[::1]:3000", "::1", 3000),
            ("http://[::1]", "::1", 80),
            ("http://[::1]/", "::1", 80),
            ("http://[2001:db8::2]:8080/", "2001:db8::2", 8080),
            ("http://backend:0", "backend", 0),
            ("http://backend:65535", "backend", 65535),
        ]
    )
    func parsesValid(text: String, host: String, port: Int) throws {
        let url = try UpstreamURL(parsing: text)
        #expect(url.host == host)
        #expect(url.port == port)
    }

    @Test(
        "Parses https:// origins, port 443 by default, left out of Host and the description",
        arguments: [
            ("https://127.0.0.1:3000", "127.0.0.1", 3000, "https://127.0.0.1:3000"),
            ("HTTPS://backend", "backend", 443, "https://backend"),
            ("https://[::1]:443/", "::1", 443, "https://[::1]"),
            ("https://backend:80", "backend", 80, "https://backend:80"),
        ])
    func parsesHTTPS(text: String, host: String, port: Int, description: String) throws {
        let url = try UpstreamURL(parsing: text)
        #expect(url.scheme == .https)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.description == description)
        #expect(url.hostHeader == String(description.dropFirst("https://".count)))
    }

    @Test(
        "Rejects other schemes and bare addresses",
        arguments: [
            "127.0.0.1:3000", "backend", "", "ftp://backend", "ws://backend:80", "http:/backend", "http//backend",
            "unix:///tmp/s",
        ]
    )
    func rejectsNonHTTP(text: String) {
        let error = #expect(throws: ConfigurationValueError.self) { try UpstreamURL(parsing: text) }
        #expect(error?.message == "expected an http:// or https:// URL such as http://127.0.0.1:3000")
    }

    @Test(
        "Rejects paths, queries, fragments and user info",
        arguments: [
            "http://backend/api",
            "http://backend:3000/api/",
            "http://backend//",
            "http://backend?x=1",
            "http://backend:3000/?x=1",
            "http://backend#top",
            "http://backend:3000#top",
            "http://user@backend",
            "http://user:secret@backend:3000",
        ]
    )
    func rejectsPathQueryFragmentAndUser(text: String) {
        let error = #expect(throws: ConfigurationValueError.self) { try UpstreamURL(parsing: text) }
        #expect(error?.message.hasPrefix("expected only scheme, host and port") == true)
    }

    @Test(
        "Rejects bad hosts and ports",
        arguments: [
            "http://", "http:///", "http://backend:", "http://backend:http", "http://backend:65536", "http://[::1]:",
            "http://[::1", "http://::1:3000", "http://bad host",
        ])
    func rejectsBadAuthority(text: String) {
        let error = #expect(throws: ConfigurationValueError.self) { try UpstreamURL(parsing: text) }
        #expect(error?.message.hasPrefix("expected HOST:PORT") == true)
    }

    @Test(
        "Host header and description omit port 80 and bracket IPv6",
        arguments: [
            (UpstreamURL(host: "127.0.0.1", port: 3000), "127.0.0.1:3000", "http://127.0.0.1:3000"),
            (UpstreamURL(host: "backend", port: 80), "backend", "http://backend"),
            (UpstreamURL(host: "::1", port: 80), "[::1]", "http://[::1]"),
            (UpstreamURL(host: "::1", port: 3000), "[::1]:3000", "http://[::1]:3000"),
        ]
    )
    func hostHeaderAndDescription(url: UpstreamURL, hostHeader: String, description: String) throws {
        #expect(url.hostHeader == hostHeader)
        #expect(url.description == description)
        #expect(try UpstreamURL(parsing: description) == url)
    }
}
