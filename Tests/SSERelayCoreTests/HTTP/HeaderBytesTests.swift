import Testing

@testable import SSERelayCore

@Suite("HeaderBytes")
struct HeaderBytesTests {
    @Test(
        "A name matches its lowercase form in any ASCII case",
        arguments: ["host", "Host", "HOST", "hOsT"]
    )
    func namesMatchIgnoringCase(name: String) {
        #expect(HeaderBytes.name(name, is: "host"))
    }

    @Test(
        "A name does not match a different name, a longer or a shorter one",
        arguments: ["hosts", "hos", "", "h0st", "ĥost", "Host "]
    )
    func namesDoNotMatchOtherNames(name: String) {
        #expect(!HeaderBytes.name(name, is: "host"))
    }

    @Test("Only letters fold: bytes that differ in the case bit but are not letters stay different")
    func onlyLettersFold() {
        #expect(!HeaderBytes.name("x@y", is: "x`y"))
        #expect(!HeaderBytes.name("x[y", is: "x{y"))
        #expect(HeaderBytes.name("X-Y", is: "x-y"))
    }

    @Test("A prefix matches in any case and only at the start")
    func prefixes() {
        #expect(HeaderBytes.name("Proxy-Authorization", hasPrefix: "proxy-"))
        #expect(HeaderBytes.name("PROXY-", hasPrefix: "proxy-"))
        #expect(!HeaderBytes.name("Proxy", hasPrefix: "proxy-"))
        #expect(!HeaderBytes.name("X-Proxy-Id", hasPrefix: "proxy-"))
        #expect(!HeaderBytes.name("Proxy_Connection", hasPrefix: "proxy-"))
    }

    @Test(
        "Finds U+FFFD anywhere, in short and long strings",
        arguments: ["\u{FFFD}", "a\u{FFFD}", "\u{FFFD}b", String(repeating: "x", count: 40) + "\u{FFFD}"]
    )
    func findsReplacementCharacter(text: String) {
        #expect(HeaderBytes.containsReplacementCharacter(text))
    }

    @Test(
        "Finds no U+FFFD in text without it, other non-ASCII text included",
        arguments: ["", "plain", "\u{FFFE}", "\u{FFFC}", "é€", String(repeating: "y", count: 40) + "\u{EFBF}"]
    )
    func findsNoReplacementCharacter(text: String) {
        #expect(!HeaderBytes.containsReplacementCharacter(text))
    }

    @Test(
        "Splits a list on commas, trims spaces and tabs around each element, skips empty ones",
        arguments: [
            ("close", ["close"]),
            ("Keep-Alive, Upgrade", ["Keep-Alive", "Upgrade"]),
            (" a ,\tb\t,, ,c", ["a", "b", "c"]),
            ("", []),
            (",,", []),
            ("x y, z", ["x y", "z"]),
        ]
    )
    func listElements(value: String, expected: [String]) {
        var elements: [String] = []
        HeaderBytes.forEachListElement(in: value) { elements.append(String($0)) }
        #expect(elements == expected)
    }
}
