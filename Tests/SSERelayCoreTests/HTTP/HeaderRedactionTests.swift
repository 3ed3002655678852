import NIOHTTP1
import Testing

@testable import SSERelayCore

@Suite("HeaderRedaction")
struct HeaderRedactionTests {
    @Test(
        "Replaces the value of every credential header, in any case",
        arguments: [
            "Authorization", "authorization", "AUTHORIZATION",
            "Proxy-Authorization", "proxy-authorization", "PROXY-AUTHORIZATION",
            "Cookie", "cookie", "COOKIE",
            "Set-Cookie", "set-cookie", "SET-COOKIE", "sEt-CoOkIe",
        ]
    )
    func redactsCredentials(name: String) {
        let shown = HeaderRedaction.redacted(HTTPHeaders([(name, "secret-value")]))
        #expect(shown.count == 1)
        #expect(shown.first?.name == name)
        #expect(shown.first?.value == "[redacted]")
        #expect(shown.first?.value == HeaderRedaction.placeholder)
    }

    @Test(
        "Keeps every other header as it is",
        arguments: [
            "Host", "Accept", "X-Authorization", "Authorization-Extra", "Cookies", "Set-Cookie2", "WWW-Authenticate",
            "X-Api-Key",
        ]
    )
    func keepsOthers(name: String) {
        let shown = HeaderRedaction.redacted(HTTPHeaders([(name, "visible value")]))
        #expect(shown.map(\.name) == [name])
        #expect(shown.map(\.value) == ["visible value"])
    }

    @Test("Keeps order, names as written and duplicate lines")
    func keepsOrder() {
        let headers = HTTPHeaders([
            ("Host", "example.com"),
            ("cookie", "a=1"),
            ("Accept", "text/event-stream"),
            ("Set-Cookie", "s=1; HttpOnly"),
            ("Set-Cookie", "t=2"),
            ("Authorization", "Bearer abc"),
            ("X-Request-Id", "r1"),
            ("Proxy-Authorization", "Basic xyz"),
        ])
        let shown = HeaderRedaction.redacted(headers)
        #expect(
            shown.map(\.name) == [
                "Host", "cookie", "Accept", "Set-Cookie", "Set-Cookie", "Authorization", "X-Request-Id",
                "Proxy-Authorization",
            ])
        #expect(
            shown.map(\.value) == [
                "example.com", "[redacted]", "text/event-stream", "[redacted]", "[redacted]", "[redacted]", "r1",
                "[redacted]",
            ])
        #expect(!shown.contains { $0.value.contains("abc") || $0.value.contains("xyz") || $0.value.contains("=") })
    }

    @Test("Empty headers give an empty list; the set of redacted names is exactly four")
    func emptyAndNames() {
        #expect(HeaderRedaction.redacted(HTTPHeaders()).isEmpty)
        #expect(HeaderRedaction.redactedNames == ["authorization", "proxy-authorization", "cookie", "set-cookie"])
    }
}
