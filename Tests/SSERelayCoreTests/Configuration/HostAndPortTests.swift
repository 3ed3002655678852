import Testing

@testable import SSERelayCore

@Suite("HostAndPort")
struct HostAndPortTests {
    @Test(
        "Parses valid HOST:PORT",
        arguments: [
            ("127.0.0.1:8080", "127.0.0.1", 8080),
            ("0.0.0.0:80", "0.0.0.0", 80),
            ("localhost:3000", "localhost", 3000),
            ("example.com:443", "example.com", 443),
            ("my-host_1.internal:1", "my-host_1.internal", 1),
            ("127.0.0.1:0", "127.0.0.1", 0),
            ("127.0.0.1:65535", "127.0.0.1", 65535),
            ("[::1]:8080", "::1", 8080),
            ("[::]:9090", "::", 9090),
            ("[fe80::1%eth0]:22", "fe80::1%eth0", 22),
            ("[2001:db8::1]:0", "2001:db8::1", 0),
        ]
    )
    func parsesValid(text: String, host: String, port: Int) throws {
        let parsed = try HostAndPort(parsing: text)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
        #expect(parsed == HostAndPort(host: host, port: port))
    }

    @Test(
        "Rejects malformed HOST:PORT",
        arguments: [
            "",
            "localhost",
            "8080",
            ":8080",
            "localhost:",
            "localhost:http",
            "local host:80",
            "a/b:80",
            "::1:8080",
            "::1",
            "[::1]",
            "[::1]8080",
            "[::1]:",
            "[]:80",
            "[::1:80",
            "[::1]x:80",
            // Brackets hold an IPv6 address and nothing else (found by the configuration
            // fuzzer: `[[[[x]:80` read back as another host).
            "[[[[[1717.869null]:80",
            "[localhost]:80",
            "a[b:80",
            "a]b:80",
            "localhost: 80",
            "localhost:80 ",
            "localhost:8.5",
        ]
    )
    func rejectsMalformed(text: String) {
        let error = #expect(throws: ConfigurationValueError.self) { try HostAndPort(parsing: text) }
        #expect(error?.message.hasPrefix("expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080") == true)
    }

    @Test(
        "Rejects ports outside 0 to 65535 and says so",
        arguments: [
            "localhost:65536", "localhost:-1", "[::1]:70000", "h:99999999999999999999", "h:+443", "h: 80", "h:0x50",
        ])
    func rejectsPortOutOfRange(text: String) {
        let error = #expect(throws: ConfigurationValueError.self) { try HostAndPort(parsing: text) }
        #expect(error?.message.contains("(port 0 to 65535)") == true)
    }

    @Test(
        "Describes itself the way it is parsed, with brackets around IPv6 hosts",
        arguments: [
            (HostAndPort(host: "127.0.0.1", port: 8080), "127.0.0.1:8080"),
            (HostAndPort(host: "localhost", port: 0), "localhost:0"),
            (HostAndPort(host: "::1", port: 9090), "[::1]:9090"),
            (HostAndPort(host: "2001:db8::1", port: 80), "[2001:db8::1]:80"),
        ]
    )
    func description(address: HostAndPort, text: String) throws {
        #expect(address.description == text)
        #expect(try HostAndPort(parsing: text) == address)
    }
}
