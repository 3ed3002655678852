import Testing

@testable import SSERelayCore

@Suite("ServerSentEvent")
struct ServerSentEventTests {
    /// An event of the given field lines, each named by the text before its first colon.
    private static func event(_ lines: String...) -> ServerSentEvent {
        ServerSentEvent(lines: lines.map { EventStreamParserTests.line(Array($0.utf8)) })
    }

    // MARK: - upstreamID

    @Test(
        "upstreamID is the last id line's value without NUL; empty counts as none",
        arguments: [
            (lines: [String](), id: String?.none),
            (lines: ["data: x"], id: nil),
            (lines: ["id: 1"], id: "1"),
            (lines: ["id:1"], id: "1"),
            (lines: ["id:  1"], id: " 1"),
            (lines: ["id: 1 "], id: "1 "),
            (lines: ["id: a:b"], id: "a:b"),
            (lines: ["id: 1", "data: x", "id: 2"], id: "2"),
            (lines: ["id: 1", "id: a\0b"], id: "1"),
            (lines: ["id: \0"], id: nil),
            (lines: ["id: a\0b"], id: nil),
            (lines: ["id:"], id: nil),
            (lines: ["id: "], id: nil),
            (lines: ["id"], id: nil),
            (lines: ["id: 1", "id:"], id: nil),  // the last id line wins, even when it resets
            (lines: ["id: 1", "id"], id: nil),
            (lines: ["id:", "id: 3"], id: "3"),
            (lines: ["ID: 1", "Id: 2", " id: 3", "idx: 4", "data: id: 5"], id: nil),
            (lines: ["id: é-7"], id: "é-7"),
        ])
    func upstreamID(lines: [String], id: String?) {
        #expect(ServerSentEvent(lines: lines.map { EventStreamParserTests.line(Array($0.utf8)) }).upstreamID == id)
    }

    // MARK: - retry

    @Test(
        "retry is the last value of only ASCII digits",
        arguments: [
            (lines: [String](), retry: Int?.none),
            (lines: ["retry: 1000"], retry: 1000),
            (lines: ["retry:1000"], retry: 1000),
            (lines: ["retry: 0"], retry: 0),
            (lines: ["retry: 007"], retry: 7),
            (lines: ["retry: 10a"], retry: nil),
            (lines: ["retry: a10"], retry: nil),
            (lines: ["retry: -1"], retry: nil),
            (lines: ["retry: +1"], retry: nil),
            (lines: ["retry: 1.5"], retry: nil),
            (lines: ["retry: 1 "], retry: nil),
            (lines: ["retry:  1"], retry: nil),  // only one space is stripped
            (lines: ["retry: "], retry: nil),
            (lines: ["retry:"], retry: nil),
            (lines: ["retry"], retry: nil),
            (lines: ["retry: \u{FF11}"], retry: nil),  // a full-width digit is no ASCII digit
            (lines: ["retry: 5", "retry: 7"], retry: 7),
            (lines: ["retry: 5", "retry: x"], retry: 5),
            (lines: ["retry: 5", "retry: 99999999999999999999999"], retry: 5),
            (lines: ["Retry: 5", "data: retry: 6"], retry: nil),
        ])
    func retry(lines: [String], retry: Int?) {
        #expect(ServerSentEvent(lines: lines.map { EventStreamParserTests.line(Array($0.utf8)) }).retry == retry)
    }

    // MARK: - data

    @Test(
        "data joins the data lines with LF, and is nil without one",
        arguments: [
            (lines: [String](), data: String?.none),
            (lines: ["id: 1", "event: x", "retry: 5"], data: nil),
            (lines: ["data: a"], data: "a"),
            (lines: ["data:a"], data: "a"),
            (lines: ["data:  a"], data: " a"),
            (lines: ["data: a "], data: "a "),
            (lines: ["data: a", "data: b", "data: c"], data: "a\nb\nc"),
            (lines: ["data: a", "id: 1", "data: b"], data: "a\nb"),
            (lines: ["data"], data: ""),
            (lines: ["data:"], data: ""),
            (lines: ["data: "], data: ""),
            (lines: ["data", "data"], data: "\n"),
            (lines: ["data: a", "data"], data: "a\n"),
            (lines: ["data: a:b: c"], data: "a:b: c"),
            (lines: ["Data: a", "data-x: b", " data: c"], data: nil),
            (lines: ["data: é \u{1F600}"], data: "é \u{1F600}"),
        ])
    func data(lines: [String], data: String?) {
        #expect(ServerSentEvent(lines: lines.map { EventStreamParserTests.line(Array($0.utf8)) }).data == data)
    }

    @Test("data decodes invalid UTF-8 with replacement characters while the raw bytes stay as sent")
    func dataWithInvalidUTF8() {
        let raw: [UInt8] = Array("data: a".utf8) + [0xFF] + Array("b".utf8)
        let event = ServerSentEvent(lines: [ServerSentEvent.Line(field: "data", raw: raw)])
        #expect(event.data == "a\u{FFFD}b")
        #expect(event.lines[0].raw == raw)
    }

    // MARK: - type

    @Test(
        "type is the last event line's value",
        arguments: [
            (lines: [String](), type: String?.none),
            (lines: ["data: x"], type: nil),
            (lines: ["event: add"], type: "add"),
            (lines: ["event:add"], type: "add"),
            (lines: ["event:  add"], type: " add"),
            (lines: ["event: add", "data: x", "event: remove"], type: "remove"),
            (lines: ["event"], type: ""),
            (lines: ["Event: add"], type: nil),
        ])
    func eventType(lines: [String], type: String?) {
        #expect(ServerSentEvent(lines: lines.map { EventStreamParserTests.line(Array($0.utf8)) }).type == type)
    }

    // MARK: - value(of:)

    @Test(
        "the value is what follows the first colon, less one leading space",
        arguments: [
            (raw: "data: a", value: "a"),
            (raw: "data:a", value: "a"),
            (raw: "data:  a", value: " a"),
            (raw: "data:", value: ""),
            (raw: "data: ", value: ""),
            (raw: "data", value: ""),
            (raw: "data:\ta", value: "\ta"),
            (raw: "a:b:c", value: "b:c"),
            (raw: "a: :b", value: ":b"),
        ])
    func value(raw: String, value: String) {
        #expect(Array(ServerSentEvent.value(of: Array(raw.utf8))) == Array(value.utf8))
    }

    // MARK: - Derived values agree with parsed streams

    @Test("the derived values of a parsed event with every kind of line")
    func parsedEvent() throws {
        var parser = EventStreamParser()
        let outputs = try parser.feed(
            Array(
                "event: update\r\nid: 41\r\ndata: {\"a\":1}\r\nretry: 3000\r\nid: 42\r\nfoo: bar\r\ndata\r\n\r\n".utf8)
        )
        #expect(outputs.count == 1)
        guard case .event(let event) = outputs.first else {
            Issue.record("expected an event, got \(outputs)")
            return
        }
        #expect(event.type == "update")
        #expect(event.upstreamID == "42")
        #expect(event.data == "{\"a\":1}\n")
        #expect(event.retry == 3000)
        #expect(event.lines.map(\.field) == ["event", "id", "data", "retry", "id", "foo", "data"])
    }

    @Test("events are equal exactly when their lines are")
    func equality() {
        #expect(Self.event("data: a", "id: 1") == Self.event("data: a", "id: 1"))
        #expect(Self.event("data: a", "id: 1") != Self.event("id: 1", "data: a"))
        // The same derived values from different bytes are different events.
        #expect(Self.event("data:a") != Self.event("data: a"))
        #expect(Self.event("data:a").data == Self.event("data: a").data)
        #expect(Set([Self.event("data: a"), Self.event("data: a"), Self.event("data: b")]).count == 2)
    }
}
