import Testing

@testable import SSERelayCore

@Suite("RelayEventID")
struct RelayEventIDTests {
    @Test(
        "relay ids parse and print back",
        arguments: ["0123456789abcdef-0", "ffffffffffffffff-42", "0000000000000000-999999"])
    func roundTrip(text: String) throws {
        let id = try #require(RelayEventID(parsing: text))
        #expect(id.description == text)
    }

    @Test(
        "other ids are not relay ids",
        arguments: [
            "", "42", "abc-1", "0123456789ABCDEF-1", "0123456789abcdef-", "0123456789abcdef-x",
            "0123456789abcdef1-1", "0123456789abcde-1", "0123456789abcdef--1", "0123456789abcdef-1 ",
            "0123456789abcdef-9999999999999999999",
        ])
    func notRelayIDs(text: String) {
        #expect(RelayEventID(parsing: text) == nil)
    }

    @Test("generation tokens are 16 hex digits and differ")
    func tokens() throws {
        var generator = SplitMix64(seed: 1)
        var seen: Set<String> = []
        for _ in 0..<1_000 {
            let token = RelayEventID.makeGenerationToken(using: &generator)
            #expect(RelayEventID(parsing: "\(token)-1")?.generation == token)
            seen.insert(token)
        }
        #expect(seen.count == 1_000)
        #expect(RelayEventID.makeGenerationToken() != RelayEventID.makeGenerationToken())
    }

    @Test("end markers are relay ids with .end, and nothing else is one")
    func endMarkers() {
        let id = RelayEventID(generation: "0123456789abcdef", sequence: 12)
        #expect(id.endMarker == "0123456789abcdef-12.end")
        #expect(RelayEventID.isEndMarker(id.endMarker))
        #expect(!RelayEventID.isEndMarker(id.description))
        #expect(!RelayEventID.isEndMarker("0123456789abcdef-12.end.end"))
        #expect(!RelayEventID.isEndMarker("0123456789ABCDEF-12.end"))
        #expect(!RelayEventID.isEndMarker(".end"))
        #expect(RelayEventID(parsing: id.endMarker) == nil)
    }
}
