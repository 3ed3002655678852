import NIOHTTP1
import Testing

@testable import SSERelayCore

@Suite("QueryRedaction")
struct QueryRedactionTests {
    @Test(
        "Values of credential-like parameters are replaced; everything else stays byte for byte",
        arguments: [
            ("/s?token=SECRET", "/s?token=[redacted]"),
            ("/s?a=1&TOKEN=x&b=2", "/s?a=1&TOKEN=[redacted]&b=2"),
            (
                "/s?access_token=a&api_key=b&key=c&auth=d",
                "/s?access_token=[redacted]&api_key=[redacted]&key=[redacted]&auth=[redacted]"
            ),
            (
                "/s?password=p&secret=s&signature=g&sig=h&jwt=j",
                "/s?password=[redacted]&secret=[redacted]&signature=[redacted]&sig=[redacted]&jwt=[redacted]"
            ),
            ("/s?%74oken=x", "/s?%74oken=[redacted]"),
            ("/s?token=a=b&x", "/s?token=[redacted]&x"),
            ("/s?token=a&token=b", "/s?token=[redacted]&token=[redacted]"),
            // Nothing to hide: no value, an empty value, a name that only looks alike.
            ("/s?token", "/s?token"),
            ("/s?token=", "/s?token="),
            ("/s?tokens=1&my_token=2&x=token", "/s?tokens=1&my_token=2&x=token"),
            ("/s?a=1&&b=%2F", "/s?a=1&&b=%2F"),
            ("/s", "/s"),
            ("/s?", "/s?"),
            ("/token=1", "/token=1"),
        ])
    func target(target: String, expected: String) {
        #expect(QueryRedaction.standard.redacting(target: target) == expected)
    }

    @Test("A query alone, with a configured list compared case-insensitively")
    func query() {
        let redaction = QueryRedaction(names: ["Model"])
        #expect(redaction.redacting(query: "model=m&token=t") == "model=[redacted]&token=t")
        #expect(QueryRedaction(names: []).redacting(query: "token=t") == "token=t")
    }

    @Test("Names outside ASCII are compared as lowercased strings, in the list and in the query")
    func nonASCIINames() {
        let redaction = QueryRedaction(names: ["Schlüssel"])
        #expect(redaction.redacting(query: "SCHLÜSSEL=x&a=1") == "SCHLÜSSEL=[redacted]&a=1")
        #expect(redaction.redacting(query: "schl%C3%BCssel=x") == "schl%C3%BCssel=[redacted]")
        #expect(redaction.redacting(query: "schlussel=x") == "schlussel=x")
        #expect(QueryRedaction.standard.redacting(query: "tökén=x&ToKeN=y") == "tökén=x&ToKeN=[redacted]")
    }

    @Test("Every default name is hidden in any ASCII case; a name one byte off is not")
    func everyCase() {
        for name in QueryRedaction.defaultNames {
            let bytes = Array(name.utf8)
            // Upper case, and upper case at every other byte starting at the first or second.
            let spellings =
                [name.uppercased()]
                + [0, 1].map { start in
                    String(
                        decoding: bytes.enumerated().map { $0.offset % 2 == start ? $0.element & ~0x20 : $0.element },
                        as: UTF8.self)
                }
            for spelling in spellings + [name] {
                #expect(
                    QueryRedaction.standard.redacting(query: "a=1&\(spelling)=v") == "a=1&\(spelling)=[redacted]",
                    "\(spelling)")
            }
            for near in [name + "x", String(name.dropLast()), "x" + name.dropFirst()]
            where !QueryRedaction.standard.names.contains(near) {
                #expect(QueryRedaction.standard.redacting(query: "\(near)=v") == "\(near)=v", "\(near)")
            }
        }
    }

    @Test("The default list holds the names a credential usually travels under")
    func defaults() {
        for name in [
            "token", "access_token", "api_key", "key", "auth", "password", "secret", "signature", "sig", "jwt",
        ] {
            #expect(QueryRedaction.standard.names.contains(name))
        }
        #expect(LogConfiguration().redactQueryParameters == QueryRedaction.defaultNames)
    }

    @Test("Private response headers are removed in any case; others stay in order")
    func privateResponseHeaders() {
        var headers: HTTPHeaders = [
            "Content-Type": "text/event-stream", "Set-Cookie": "session=a", "X-Other": "1", "set-cookie": "b=2",
            "Set-Cookie2": "old",
        ]
        ProxyHeaderPolicy.removePrivateResponseHeaders(["set-cookie", "set-cookie2"], from: &headers)
        #expect(headers.map(\.name) == ["Content-Type", "X-Other"])
    }
}
