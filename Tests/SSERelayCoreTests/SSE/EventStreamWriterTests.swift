import NIOCore
import Testing

@testable import SSERelayCore

@Suite("EventStreamWriter")
struct EventStreamWriterTests {
    private static let allocator = ByteBufferAllocator()

    private static func event(_ lines: String...) -> ServerSentEvent {
        ServerSentEvent(lines: lines.map { EventStreamParserTests.line(Array($0.utf8)) })
    }

    private static func bytes(_ buffer: ByteBuffer) -> [UInt8] {
        Array(buffer.readableBytesView)
    }

    private static func encode(
        _ event: ServerSentEvent, relayID: String?, dropsUpstreamRetry: Bool = false
    ) -> [UInt8] {
        Self.bytes(
            EventStreamWriter(dropsUpstreamRetry: dropsUpstreamRetry).encode(
                event, relayID: relayID, allocator: Self.allocator)
        )
    }

    // MARK: - Preamble

    @Test("the preamble with a retry time")
    func preambleWithRetry() {
        let writer = EventStreamWriter(dropsUpstreamRetry: true)
        let preamble = writer.preamble(retryMs: 2000, primingID: "g7-0", allocator: Self.allocator)
        #expect(Self.bytes(preamble) == Array("retry: 2000\nid: g7-0\n\n".utf8))
    }

    @Test("the preamble without a retry time is the priming id alone")
    func preambleWithoutRetry() {
        let writer = EventStreamWriter(dropsUpstreamRetry: false)
        let preamble = writer.preamble(retryMs: nil, primingID: "g7-12", allocator: Self.allocator)
        #expect(Self.bytes(preamble) == Array("id: g7-12\n\n".utf8))
    }

    @Test("a retry time of zero is still written")
    func preambleWithZeroRetry() {
        let writer = EventStreamWriter(dropsUpstreamRetry: true)
        let preamble = writer.preamble(retryMs: 0, primingID: "a-0", allocator: Self.allocator)
        #expect(Self.bytes(preamble) == Array("retry: 0\nid: a-0\n\n".utf8))
    }

    @Test("a client parses the preamble as a block that sets the id and retry but carries no data")
    func preambleParses() {
        let writer = EventStreamWriter(dropsUpstreamRetry: true)
        let preamble = writer.preamble(retryMs: 1500, primingID: "g1-3", allocator: Self.allocator)
        let run = EventStreamParserTests.run([Self.bytes(preamble)])
        #expect(run.dropped == 0)
        #expect(run.events.count == 1)
        #expect(run.events.first?.upstreamID == "g1-3")
        #expect(run.events.first?.retry == 1500)
        #expect(run.events.first?.data == nil)
    }

    // MARK: - encode

    @Test("without a relay id the lines pass byte for byte, each ended by LF, then a blank line")
    func encodeKeepsBytes() {
        let lines: [[UInt8]] = [
            Array("event: update".utf8),
            Array("data:  two spaces".utf8),
            Array("data".utf8),
            Array("data: ".utf8) + [0xFF, 0x00, 0xC3, 0x28, 0xEF, 0xBB, 0xBF],
            Array("id: a\0b".utf8),
            Array("x-unknown: 1".utf8),
            Array("retry: 10a".utf8),
        ]
        let event = ServerSentEvent(lines: lines.map { EventStreamParserTests.line($0) })
        #expect(Self.encode(event, relayID: nil) == lines.flatMap { $0 + [0x0A] } + [0x0A])
    }

    @Test("an event read with CRLF or CR endings is written with LF")
    func encodeNormalisesLineEndings() throws {
        var parser = EventStreamParser()
        let outputs = try parser.feed(Array("data: a\r\nid: 1\rdata: b\r\n\r\n".utf8))
        guard case .event(let event) = outputs.first, outputs.count == 1 else {
            Issue.record("expected one event, got \(outputs)")
            return
        }
        #expect(Self.encode(event, relayID: nil) == Array("data: a\nid: 1\ndata: b\n\n".utf8))
    }

    @Test("a relay id replaces every id line, written last")
    func encodeWithRelayID() {
        let event = Self.event("id: up-1", "data: a", "id", "data: b", "id:", "idx: 2", "ID: 3")
        #expect(
            Self.encode(event, relayID: "g2-5") == Array("data: a\ndata: b\nidx: 2\nID: 3\nid: g2-5\n\n".utf8)
        )
    }

    @Test("without a relay id the id lines stay where they are")
    func encodeKeepsIDLines() {
        let event = Self.event("id: up-1", "data: a", "id", "data: b")
        #expect(Self.encode(event, relayID: nil) == Array("id: up-1\ndata: a\nid\ndata: b\n\n".utf8))
    }

    @Test("an event without id lines gets the relay id")
    func encodeAddsRelayID() {
        #expect(Self.encode(Self.event("data: a"), relayID: "g1-1") == Array("data: a\nid: g1-1\n\n".utf8))
    }

    @Test("retry lines are dropped only when the route sets its own retry time")
    func encodeRetryLines() {
        let event = Self.event("retry: 5000", "data: a", "retry", "retry: x", "Retry: 1", "retryx: 2")
        #expect(
            Self.encode(event, relayID: nil, dropsUpstreamRetry: true)
                == Array("data: a\nRetry: 1\nretryx: 2\n\n".utf8)
        )
        #expect(
            Self.encode(event, relayID: nil, dropsUpstreamRetry: false)
                == Array("retry: 5000\ndata: a\nretry\nretry: x\nRetry: 1\nretryx: 2\n\n".utf8)
        )
    }

    @Test("a relay id and dropped retry lines together")
    func encodeRelayIDAndDroppedRetry() {
        let event = Self.event("retry: 5000", "id: 9", "data: a")
        #expect(
            Self.encode(event, relayID: "g3-1", dropsUpstreamRetry: true) == Array("data: a\nid: g3-1\n\n".utf8)
        )
        #expect(
            Self.encode(event, relayID: "g3-1", dropsUpstreamRetry: false)
                == Array("retry: 5000\ndata: a\nid: g3-1\n\n".utf8)
        )
    }

    @Test("an event whose every line is dropped dispatches nothing at a client")
    func encodeEverythingDropped() {
        let encoded = Self.encode(Self.event("retry: 100"), relayID: nil, dropsUpstreamRetry: true)
        #expect(!encoded.isEmpty)
        #expect(encoded.allSatisfy { $0 == 0x0A })
        let run = EventStreamParserTests.run([Array("data: a\n\n".utf8) + encoded])
        #expect(run.outputs == [EventStreamParserTests.event("data: a")])
        #expect(run.dropped == 0)
    }

    @Test(
        "the output ends with exactly one blank line and holds no other",
        arguments: [nil, "g1-9"] as [String?], [false, true])
    func encodeEndsWithOneBlankLine(relayID: String?, dropsUpstreamRetry: Bool) {
        let event = Self.event("data: a", "id: 1", "retry: 3", "data")
        let encoded = Self.encode(event, relayID: relayID, dropsUpstreamRetry: dropsUpstreamRetry)
        #expect(encoded.suffix(2) == [0x0A, 0x0A])
        let blankLines = zip(encoded, encoded.dropFirst()).filter { $0 == 0x0A && $1 == 0x0A }.count
        #expect(blankLines == 1)
        #expect(!encoded.contains(0x0D))
    }

    // MARK: - Comments and heartbeats

    @Test("a comment is the line as received and an LF")
    func comment() {
        let writer = EventStreamWriter(dropsUpstreamRetry: false)
        #expect(Self.bytes(writer.comment(Array(": hi".utf8), allocator: Self.allocator)) == Array(": hi\n".utf8))
        let raw: [UInt8] = [0x3A, 0xFF, 0x00, 0x20]
        #expect(Self.bytes(writer.comment(raw, allocator: Self.allocator)) == raw + [0x0A])
    }

    @Test("a parsed comment is written back as it came")
    func commentRoundTrip() throws {
        var parser = EventStreamParser()
        let outputs = try parser.feed(Array(":keep-alive \u{1F600}\r\n".utf8))
        guard case .comment(let line) = outputs.first, outputs.count == 1 else {
            Issue.record("expected one comment, got \(outputs)")
            return
        }
        let writer = EventStreamWriter(dropsUpstreamRetry: false)
        #expect(Self.bytes(writer.comment(line, allocator: Self.allocator)) == Array(":keep-alive \u{1F600}\n".utf8))
    }

    @Test("the heartbeat is a bare comment line")
    func heartbeat() {
        #expect(EventStreamWriter.heartbeat == [UInt8(ascii: ":"), UInt8(ascii: "\n")])
        let run = EventStreamParserTests.run([EventStreamWriter.heartbeat])
        #expect(run == EventStreamParserTests.ParseRun(outputs: [.comment([UInt8(ascii: ":")])], dropped: 0))
    }

    // MARK: - Retry answer

    @Test(
        "the retry answer is the retry time, the comment and a blank line",
        arguments: [
            (2000 as Int?, "upstream unavailable: timeout", "retry: 2000\n: upstream unavailable: timeout\n\n"),
            (0, "refused", "retry: 0\n: refused\n\n"),
            (nil, "refused: the relay is at capacity", ": refused: the relay is at capacity\n\n"),
            (1000, "", "retry: 1000\n: \n\n"),
        ])
    func retryAnswer(retryMs: Int?, comment: String, expected: String) {
        let body = EventStreamWriter.retryAnswer(retryMs: retryMs, comment: comment, allocator: Self.allocator)
        #expect(Self.bytes(body) == Array(expected.utf8))
    }

    @Test("line breaks in the retry answer's comment become spaces: it stays one comment")
    func retryAnswerOneLine() {
        let body = EventStreamWriter.retryAnswer(
            retryMs: 500, comment: "a\nid: x\r\n\rdata: y", allocator: Self.allocator)
        #expect(Self.bytes(body) == Array("retry: 500\n: a id: x data: y\n\n".utf8))
        // A client reads the comment and a block that sets the retry time, with no id or data.
        let run = EventStreamParserTests.run([Self.bytes(body)])
        #expect(run.outputs.first == .comment(Array(": a id: x data: y".utf8)))
        #expect(run.events.count == 1)
        #expect(run.events.first?.retry == 500)
        #expect(run.events.first?.upstreamID == nil)
        #expect(run.events.first?.data == nil)
        #expect(run.dropped == 0)
    }

    // MARK: - Round trip

    /// A random event as an upstream could send it: 1 to 6 field lines of known and unknown
    /// names, values of any bytes but CR and LF.
    private static func randomEvent(using random: inout SplitMix64) -> ServerSentEvent {
        let names = ["data", "id", "retry", "event", "x-custom", "é", "Data"]
        let lines = (0..<Int.random(in: 1...6, using: &random)).map { _ -> [UInt8] in
            let name = Array(names.randomElement(using: &random)!.utf8)
            switch Int.random(in: 0..<4, using: &random) {
            case 0: return name
            case 1: return name + [0x3A]
            default: return name + Array(": ".utf8) + EventStreamParserTests.randomValue(using: &random)
            }
        }
        return ServerSentEvent(lines: lines.map { EventStreamParserTests.line($0) })
    }

    @Test("random events read back as they were written, with and without a relay id")
    func roundTrip() {
        var random = SplitMix64(seed: 0xE7E27)
        for iteration in 0..<1_000 {
            let event = Self.randomEvent(using: &random)
            let dropsRetry = Bool.random(using: &random)
            let keptLines = event.lines.filter { !(dropsRetry && $0.field == "retry") }
            let writer = EventStreamWriter(dropsUpstreamRetry: dropsRetry)

            let plain = Self.bytes(writer.encode(event, relayID: nil, allocator: Self.allocator))
            let plainRun = EventStreamParserTests.run([plain])
            let expectedPlain =
                keptLines.isEmpty ? [] : [EventStreamParser.Output.event(ServerSentEvent(lines: keptLines))]
            #expect(
                plainRun == EventStreamParserTests.ParseRun(outputs: expectedPlain, dropped: 0),
                "iteration \(iteration): \(event)")

            let relayID = "g\(iteration)-\(Int.random(in: 0...1_000, using: &random))"
            let relayed = Self.bytes(writer.encode(event, relayID: relayID, allocator: Self.allocator))
            let relayedRun = EventStreamParserTests.run([relayed])
            let expectedRelayed = ServerSentEvent(
                lines: keptLines.filter { $0.field != "id" }
                    + [ServerSentEvent.Line(field: "id", raw: Array("id: \(relayID)".utf8))]
            )
            #expect(
                relayedRun == EventStreamParserTests.ParseRun(outputs: [.event(expectedRelayed)], dropped: 0),
                "iteration \(iteration): \(event)")
            #expect(relayedRun.events.first?.upstreamID == relayID)
            #expect(relayedRun.events.first?.data == ServerSentEvent(lines: keptLines).data)
            if plainRun.outputs != expectedPlain { return }
        }
    }

    @Test("events written one after another read back in order, whatever the chunks")
    func streamRoundTrip() {
        var random = SplitMix64(seed: 7)
        let writer = EventStreamWriter(dropsUpstreamRetry: false)
        for iteration in 0..<200 {
            let events = (0..<Int.random(in: 1...8, using: &random)).map { _ in Self.randomEvent(using: &random) }
            var stream = Self.bytes(writer.preamble(retryMs: 1000, primingID: "g1-0", allocator: Self.allocator))
            for (index, event) in events.enumerated() {
                stream += Self.bytes(writer.comment(Array(":c".utf8), allocator: Self.allocator))
                stream += Self.bytes(writer.encode(event, relayID: "g1-\(index + 1)", allocator: Self.allocator))
            }
            let cuts = EventStreamParserTests.randomCuts(count: stream.count, using: &random)
            let run = EventStreamParserTests.run(EventStreamParserTests.split(stream, at: cuts))
            let ids = run.events.map(\.upstreamID)
            #expect(ids == ["g1-0"] + events.indices.map { "g1-\($0 + 1)" }, "iteration \(iteration)")
            #expect(run.outputs.count == 1 + 2 * events.count)
            #expect(run.dropped == 0)
        }
    }
}
