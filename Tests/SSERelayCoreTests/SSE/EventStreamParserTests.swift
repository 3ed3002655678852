import NIOCore
import Testing

@testable import SSERelayCore

/// The UTF-8 byte order mark.
private let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

@Suite("EventStreamParser")
struct EventStreamParserTests {
    // MARK: - The HTML Living Standard's examples

    @Test("the stock ticker example: three data lines make one event")
    func stockExample() {
        let run = Self.run("data: YHOO\ndata: +2\ndata: 10\n\n")
        #expect(run == ParseRun(outputs: [Self.event("data: YHOO", "data: +2", "data: 10")], dropped: 0))
        #expect(run.events.map(\.data) == ["YHOO\n+2\n10"])
    }

    @Test("the example with a comment, ids, and an id line without a value")
    func commentAndIDsExample() {
        let stream = """
            : test stream

            data: first event
            id: 1

            data:second event
            id

            data:  third event


            """
        let run = Self.run(stream)
        #expect(
            run
                == ParseRun(
                    outputs: [
                        .comment(Array(": test stream".utf8)),
                        Self.event("data: first event", "id: 1"),
                        Self.event("data:second event", "id"),
                        Self.event("data:  third event"),
                    ],
                    dropped: 0
                )
        )
        let events = run.events
        #expect(events.map(\.data) == ["first event", "second event", " third event"])
        // `id` without a value resets the last event id: the event names no id.
        #expect(events.map(\.upstreamID) == ["1", nil, nil])
        #expect(events[1].lines.last == ServerSentEvent.Line(field: "id", raw: Array("id".utf8)))
    }

    @Test("`data:test` and `data: test` are the same event")
    func spaceAfterColonExample() {
        let run = Self.run("data:test\n\ndata: test\n\n")
        #expect(run == ParseRun(outputs: [Self.event("data:test"), Self.event("data: test")], dropped: 0))
        #expect(run.events.map(\.data) == ["test", "test"])
    }

    @Test("the example whose last block has no blank line: that block is not dispatched")
    func finalBlockWithoutBlankLineExample() {
        let run = Self.run("data\n\ndata\ndata\n\ndata:")
        #expect(
            run
                == ParseRun(
                    outputs: [Self.event("data"), Self.event("data", "data")],
                    dropped: "data:".utf8.count
                )
        )
        #expect(run.events.map(\.data) == ["", "\n"])
    }

    @Test("two events with ids: first event, second event")
    func twoEventsWithIDs() {
        let run = Self.run("data: first event\nid: 1\n\ndata: second event\nid: 2\n\n")
        #expect(
            run
                == ParseRun(
                    outputs: [
                        Self.event("data: first event", "id: 1"),
                        Self.event("data: second event", "id: 2"),
                    ],
                    dropped: 0
                )
        )
        #expect(run.events.map(\.upstreamID) == ["1", "2"])
        #expect(run.events.map(\.data) == ["first event", "second event"])
    }

    @Test("the example with event types")
    func eventTypesExample() {
        let run = Self.run("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n")
        #expect(run.events.map(\.type) == ["add", "remove", "add"])
        #expect(run.events.map(\.data) == ["73857293", "2153", "113411"])
        #expect(run.outputs.count == 3)
    }

    @Test("the example of messages, one of them on two lines")
    func multiLineMessageExample() {
        let run = Self.run(
            "data: This is the first message.\n\ndata: This is the second message, it\ndata: has two lines.\n\n"
                + "data: This is the third message.\n\n"
        )
        #expect(
            run.events.map(\.data) == [
                "This is the first message.", "This is the second message, it\nhas two lines.",
                "This is the third message.",
            ]
        )
        #expect(run.dropped == 0)
    }

    // MARK: - Tricky streams

    @Test("tricky streams parse as expected", arguments: Self.trickyStreams)
    func trickyStream(_ stream: TrickyStream) {
        #expect(Self.run([stream.bytes]) == ParseRun(outputs: stream.outputs, dropped: stream.dropped))
    }

    @Test("the reference model agrees with the tricky stream table", arguments: Self.trickyStreams)
    func referenceAgreesWithTable(_ stream: TrickyStream) {
        #expect(Self.reference(stream.bytes) == ParseRun(outputs: stream.outputs, dropped: stream.dropped))
    }

    @Test("every split into two or three chunks parses like the whole stream", arguments: Self.trickyStreams)
    func chunkingInvariance(_ stream: TrickyStream) {
        let whole = Self.run([stream.bytes])
        let bytes = stream.bytes
        for first in 0...bytes.count {
            let two = Self.run(Self.split(bytes, at: [first]))
            #expect(two == whole, "cut at \(first)")
            for second in first...bytes.count {
                let three = Self.run(Self.split(bytes, at: [first, second]))
                #expect(three == whole, "cuts at \(first), \(second)")
            }
        }
        #expect(Self.run(bytes.map { [$0] }) == whole, "one byte at a time")
    }

    // MARK: - Line endings across chunks

    @Test("a CR ending one chunk and an LF starting the next are one line ending")
    func crAtEndOfChunkThenLF() throws {
        var parser = EventStreamParser()
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        // Were this LF a second line ending, it would be a blank line and dispatch the event.
        #expect(try parser.feed(Array("\n".utf8)).isEmpty)
        // An empty chunk between the CR and the LF changes nothing.
        #expect(try parser.feed(Array("data: b\r".utf8)).isEmpty)
        #expect(try parser.feed([UInt8]()).isEmpty)
        #expect(try parser.feed(Array("\n".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n".utf8)) == [Self.event("data: a", "data: b")])
        #expect(parser.finish() == 0)
    }

    @Test("a CR ending a chunk followed by a CR is a blank line, and the event is dispatched at once")
    func crThenCR() throws {
        var parser = EventStreamParser()
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("\r".utf8)) == [Self.event("data: a")])
        // The LF after the second CR belongs to it and is no further blank line.
        #expect(try parser.feed(Array("\ndata: b\r\r".utf8)) == [Self.event("data: b")])
    }

    @Test("a CR ending a chunk followed by content starts a new line with that content")
    func crThenContent() throws {
        var parser = EventStreamParser()
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("data: b\n\n".utf8)) == [Self.event("data: a", "data: b")])
    }

    @Test("each feed returns exactly what its bytes complete, in order")
    func outputsPerFeed() throws {
        var parser = EventStreamParser()
        #expect(try parser.feed(Array(": one\ndata: a".utf8)) == [.comment(Array(": one".utf8))])
        #expect(try parser.feed(Array("\n".utf8)).isEmpty)
        #expect(
            try parser.feed(Array("\n: two\ndata: b\n\n".utf8)) == [
                Self.event("data: a"), .comment(Array(": two".utf8)), Self.event("data: b"),
            ]
        )
    }

    @Test("only the readable bytes of a ByteBuffer are parsed")
    func byteBufferReaderIndex() throws {
        var buffer = ByteBuffer(string: "garbage\n\ndata: a\n\n")
        buffer.moveReaderIndex(forwardBy: "garbage\n\n".utf8.count)
        var parser = EventStreamParser()
        #expect(try parser.feed(buffer) == [Self.event("data: a")])
        // The BOM check applies to the first readable byte, not the buffer's storage.
        var withBOM = ByteBuffer(bytes: Array("x".utf8) + bom + Array("data: b\n\n".utf8))
        withBOM.moveReaderIndex(forwardBy: 1)
        var second = EventStreamParser()
        #expect(try second.feed(withBOM) == [Self.event("data: b")])
    }

    // MARK: - finish()

    @Test("finish drops the unterminated event and reports its bytes")
    func finishDropsPending() throws {
        var parser = EventStreamParser()
        let pending = "data: b\nid: 7\nda"
        #expect(try parser.feed(Array("data: a\n\n\(pending)".utf8)) == [Self.event("data: a")])
        #expect(parser.finish() == pending.utf8.count)
        // Nothing is held afterwards: a second finish drops nothing, and a blank line
        // dispatches nothing.
        #expect(parser.finish() == 0)
        #expect(try parser.feed(Array("\n".utf8)).isEmpty)
        #expect(try parser.feed(Array("data: c\n\n".utf8)) == [Self.event("data: c")])
    }

    @Test("finish counts comments as nothing, and a dispatched event as nothing")
    func finishAfterDispatch() throws {
        var parser = EventStreamParser()
        _ = try parser.feed(Array("data: a\n\n: note\n".utf8))
        #expect(parser.finish() == 0)
    }

    @Test("finish reports the bytes of a partial BOM at the end of the stream", arguments: [1, 2])
    func finishCountsPartialBOM(length: Int) throws {
        var parser = EventStreamParser()
        #expect(try parser.feed(Array(bom.prefix(length))).isEmpty)
        #expect(parser.finish() == length)
        #expect(parser.finish() == 0)
    }

    // MARK: - Limits

    /// The size an event counts against the limit: each field line with one line ending.
    static let limit = 64

    private static func dataLine(bytes: Int) -> String {
        "data: " + String(repeating: "x", count: bytes - "data: ".utf8.count)
    }

    @Test(
        "a line whose event stays within the limit passes, one byte over throws",
        arguments: [
            (lineBytes: Self.limit - 2, passes: true),
            (lineBytes: Self.limit - 1, passes: true),  // the event, with its line ending, is exactly the limit
            (lineBytes: Self.limit, passes: false),
            (lineBytes: Self.limit + 1, passes: false),
        ])
    func lineAtTheLimit(lineBytes: Int, passes: Bool) {
        for ending in ["\n", "\r\n", "\r"] {
            let line = Self.dataLine(bytes: lineBytes)
            let bytes = Array("\(line)\(ending)\(ending)".utf8)
            let expected =
                passes
                ? ParseRun(outputs: [Self.event(line)], dropped: 0)
                : ParseRun(error: .eventTooLarge(limit: Self.limit))
            #expect(Self.run([bytes], maximumEventBytes: Self.limit) == expected)
            #expect(Self.run(bytes.map { [$0] }, maximumEventBytes: Self.limit) == expected)
        }
    }

    @Test("an unterminated line is refused as soon as it holds more than the limit")
    func partialLineOverTheLimit() {
        var parser = EventStreamParser(maximumEventBytes: Self.limit)
        for index in 0..<Self.limit {
            #expect(throws: Never.self, "byte \(index)") { _ = try parser.feed([UInt8(ascii: "x")]) }
        }
        #expect(throws: EventStreamParserError.eventTooLarge(limit: Self.limit)) {
            _ = try parser.feed([UInt8(ascii: "x")])
        }
        let whole = Self.run(
            [Array(repeating: UInt8(ascii: "x"), count: Self.limit + 1)], maximumEventBytes: Self.limit)
        #expect(whole == ParseRun(error: .eventTooLarge(limit: Self.limit)))
    }

    @Test("lines that together exceed the limit throw, whole or in one-byte chunks")
    func eventOverTheLimit() {
        // Four lines of 15 bytes plus endings are 64 bytes; a fifth makes 80.
        let line = Self.dataLine(bytes: 15)
        let fits = Array((String(repeating: "\(line)\n", count: 4) + "\n").utf8)
        let tooLarge = Array((String(repeating: "\(line)\n", count: 5) + "\n").utf8)
        let fitsRun = ParseRun(outputs: [Self.event(line, line, line, line)], dropped: 0)
        #expect(Self.run([fits], maximumEventBytes: Self.limit) == fitsRun)
        #expect(Self.run(fits.map { [$0] }, maximumEventBytes: Self.limit) == fitsRun)
        let error = ParseRun(error: .eventTooLarge(limit: Self.limit))
        #expect(Self.run([tooLarge], maximumEventBytes: Self.limit) == error)
        #expect(Self.run(tooLarge.map { [$0] }, maximumEventBytes: Self.limit) == error)
    }

    @Test("the count starts again after every event")
    func limitIsPerEvent() {
        let line = Self.dataLine(bytes: Self.limit - 1)
        let stream = Array(String(repeating: "\(line)\n\n", count: 50).utf8)
        let run = Self.run([stream], maximumEventBytes: Self.limit)
        #expect(run.error == nil)
        #expect(run.outputs.count == 50)
    }

    @Test("comments count on their own, not with the event around them")
    func commentLimit() {
        let comment = ":" + String(repeating: "c", count: Self.limit - 1)
        let tooLong = comment + "c"
        let line = Self.dataLine(bytes: 40)
        // A comment of exactly the limit inside a 41-byte event passes, however it is cut.
        let fits = Array("\(line)\n\(comment)\n\n".utf8)
        let fitsRun = ParseRun(outputs: [.comment(Array(comment.utf8)), Self.event(line)], dropped: 0)
        #expect(Self.run([fits], maximumEventBytes: Self.limit) == fitsRun)
        #expect(Self.run(fits.map { [$0] }, maximumEventBytes: Self.limit) == fitsRun)
        // One byte more throws, whether the comment arrives whole or byte by byte.
        let over = Array("\(tooLong)\n".utf8)
        let error = ParseRun(error: .eventTooLarge(limit: Self.limit))
        #expect(Self.run([over], maximumEventBytes: Self.limit) == error)
        #expect(Self.run(over.map { [$0] }, maximumEventBytes: Self.limit) == error)
    }

    @Test("the error names the limit")
    func errorDescription() {
        #expect(
            EventStreamParserError.eventTooLarge(limit: 1024).description == "an SSE event or line exceeds 1024 bytes")
    }

    // MARK: - Linear time

    /// A 128 KiB line fed one byte at a time: a parser that copied or rescanned its partial line
    /// on every chunk would do ~10^10 byte operations here instead of ~10^5. (1 MiB takes ~3 s
    /// in a debug build, the fixed cost of 2^20 calls to `feed`; 128 KiB takes ~0.3 s.)
    @Test("a 128 KiB line fed one byte at a time")
    func longLineByteByByte() throws {
        let size = 1 << 17
        var parser = EventStreamParser(maximumEventBytes: 1 << 18)
        var input = ByteBuffer(string: "data: ")
        input.writeRepeatingByte(UInt8(ascii: "x"), count: size - input.readableBytes)
        input.writeString("\n\n")
        var outputs: [EventStreamParser.Output] = []
        while let byte = input.readSlice(length: 1) {
            outputs += try parser.feed(byte)
        }
        #expect(outputs.count == 1)
        guard case .event(let event) = outputs.first else {
            Issue.record("expected one event, got \(outputs.count) outputs")
            return
        }
        #expect(event.lines.count == 1)
        #expect(event.lines.first?.raw.count == size)
        #expect(event.data?.utf8.count == size - "data: ".utf8.count)
        #expect(parser.finish() == 0)
    }

    // MARK: - Property: random streams, random chunks

    @Test("random streams parse the same whole, in random chunks, and in the reference model")
    func randomStreams() {
        var random = SplitMix64(seed: 0x5EE_2E1A7)
        for iteration in 0..<2_000 {
            let stream = Self.randomStream(using: &random)
            let whole = Self.run([stream])
            let reference = Self.reference(stream)
            #expect(whole == reference, "iteration \(iteration): \(stream)")
            let cuts = Self.randomCuts(count: stream.count, using: &random)
            let chunked = Self.run(Self.split(stream, at: cuts))
            #expect(chunked == whole, "iteration \(iteration): \(stream) cut at \(cuts)")
            if whole != reference || chunked != whole { return }
        }
    }

    @Test("random streams against a small limit: throwing does not depend on the chunks")
    func randomStreamsWithLimit() {
        var random = SplitMix64(seed: 42)
        var thrown = 0
        for iteration in 0..<2_000 {
            let stream = Self.randomStream(using: &random)
            let limit = Int.random(in: 8...40, using: &random)
            let whole = Self.run([stream], maximumEventBytes: limit)
            let reference = Self.reference(stream, maximumEventBytes: limit)
            #expect(whole == reference, "iteration \(iteration) limit \(limit): \(stream)")
            let cuts = Self.randomCuts(count: stream.count, using: &random)
            let chunked = Self.run(Self.split(stream, at: cuts), maximumEventBytes: limit)
            #expect(chunked == whole, "iteration \(iteration) limit \(limit): \(stream) cut at \(cuts)")
            if whole.error != nil { thrown += 1 }
            if whole != reference || chunked != whole { return }
        }
        // The generator reaches both sides of the limit.
        #expect(thrown > 100)
        #expect(thrown < 1_900)
    }
}

// MARK: - Running the parser

extension EventStreamParserTests {
    /// Everything a parser made of a stream: its outputs and what `finish()` dropped, or only
    /// the error (outputs before an error depend on where the chunks were cut, so they are not
    /// kept).
    struct ParseRun: Equatable, CustomStringConvertible {
        var outputs: [EventStreamParser.Output] = []
        var dropped: Int?
        var error: EventStreamParserError?

        var events: [ServerSentEvent] {
            self.outputs.compactMap {
                guard case .event(let event) = $0 else { return nil }
                return event
            }
        }

        var description: String {
            if let error { return "error(\(error))" }
            let outputs = self.outputs.map { output in
                switch output {
                case .comment(let line): return "comment(\(Self.show(line)))"
                case .event(let event): return "event(\(event.lines.map { Self.show($0.raw) }))"
                }
            }
            return "\(outputs) dropped: \(self.dropped.map(String.init) ?? "nil")"
        }

        private static func show(_ bytes: [UInt8]) -> String {
            String(decoding: bytes, as: UTF8.self).debugDescription
        }
    }

    static func run(_ chunks: some Sequence<[UInt8]>, maximumEventBytes: Int = 1 << 20) -> ParseRun {
        var parser = EventStreamParser(maximumEventBytes: maximumEventBytes)
        var run = ParseRun()
        do throws(EventStreamParserError) {
            for chunk in chunks {
                run.outputs += try parser.feed(chunk)
            }
            run.dropped = parser.finish()
        } catch {
            return ParseRun(error: error)
        }
        return run
    }

    static func run(_ stream: String) -> ParseRun {
        self.run([Array(stream.utf8)])
    }

    /// The stream cut at the given offsets (sorted, possibly equal, so chunks may be empty).
    static func split(_ bytes: [UInt8], at cuts: [Int]) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var start = 0
        for cut in cuts {
            chunks.append(Array(bytes[start..<cut]))
            start = cut
        }
        chunks.append(Array(bytes[start...]))
        return chunks
    }

    /// The field line as the standard names it: the text before the first colon.
    static func line(_ raw: [UInt8]) -> ServerSentEvent.Line {
        let nameEnd = raw.firstIndex(of: UInt8(ascii: ":")) ?? raw.endIndex
        return ServerSentEvent.Line(field: String(decoding: raw[..<nameEnd], as: UTF8.self), raw: raw)
    }

    static func event(_ lines: String...) -> EventStreamParser.Output {
        .event(ServerSentEvent(lines: lines.map { self.line(Array($0.utf8)) }))
    }

    static func event(bytes lines: [UInt8]...) -> EventStreamParser.Output {
        .event(ServerSentEvent(lines: lines.map { self.line($0) }))
    }

    static func comment(_ line: String) -> EventStreamParser.Output {
        .comment(Array(line.utf8))
    }

    /// The standard's algorithm written plainly over the whole stream: strip one BOM, split
    /// into lines, then read them. Limits: an event counts its field lines with one ending
    /// each; a comment counts alone; an unterminated line counts as it stands.
    static func reference(_ stream: [UInt8], maximumEventBytes: Int = 1 << 20) -> ParseRun {
        var bytes = stream[...]
        if bytes.starts(with: bom) {
            bytes = bytes.dropFirst(bom.count)
        }
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            switch bytes[index] {
            case UInt8(ascii: "\n"):
                lines.append(current)
                current = []
            case UInt8(ascii: "\r"):
                lines.append(current)
                current = []
                if bytes.index(after: index) < bytes.endIndex, bytes[bytes.index(after: index)] == UInt8(ascii: "\n") {
                    index = bytes.index(after: index)
                }
            case let byte:
                current.append(byte)
            }
            index = bytes.index(after: index)
        }
        var run = ParseRun()
        var pending: [ServerSentEvent.Line] = []
        var pendingBytes = 0
        let tooLarge = ParseRun(error: .eventTooLarge(limit: maximumEventBytes))
        for line in lines {
            if line.isEmpty {
                if !pending.isEmpty {
                    run.outputs.append(.event(ServerSentEvent(lines: pending)))
                }
                pending = []
                pendingBytes = 0
            } else if line.first == UInt8(ascii: ":") {
                guard line.count <= maximumEventBytes else { return tooLarge }
                run.outputs.append(.comment(line))
            } else {
                pendingBytes += line.count + 1
                guard pendingBytes <= maximumEventBytes else { return tooLarge }
                pending.append(self.line(line))
            }
        }
        let held = current.first == UInt8(ascii: ":") ? current.count : current.count + pendingBytes
        guard held <= maximumEventBytes else { return tooLarge }
        run.dropped = pendingBytes + current.count
        return run
    }
}

// MARK: - Tricky streams

extension EventStreamParserTests {
    struct TrickyStream: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var outputs: [EventStreamParser.Output]
        var dropped: Int

        var testDescription: String { self.name }

        init(_ name: String, _ bytes: [UInt8], _ outputs: [EventStreamParser.Output], dropped: Int = 0) {
            self.name = name
            self.bytes = bytes
            self.outputs = outputs
            self.dropped = dropped
        }

        init(_ name: String, _ stream: String, _ outputs: [EventStreamParser.Output], dropped: Int = 0) {
            self.init(name, Array(stream.utf8), outputs, dropped: dropped)
        }
    }

    /// Computed, not a `static let`: `Output.comment` stores its array with a tag in the high bits
    /// of the pointer, which LeakSanitizer does not recognise, so a global table of them was
    /// reported as leaked by `swift test --sanitize=address` (`.ci/sanitize`).
    static var trickyStreams: [TrickyStream] {
        [
            TrickyStream("empty stream", "", []),
            TrickyStream("BOM only", bom, []),
            TrickyStream("BOM at the start is ignored", bom + Array("data: a\n\n".utf8), [event("data: a")]),
            TrickyStream(
                "a second BOM is content", bom + bom + Array("data: a\n\n".utf8),
                [event(bytes: bom + Array("data: a".utf8))]
            ),
            TrickyStream(
                "a BOM after the start is content", Array("data: a\n".utf8) + bom + Array("data: b\n\n".utf8),
                [event(bytes: Array("data: a".utf8), bom + Array("data: b".utf8))]
            ),
            TrickyStream(
                "a BOM starting a later line is content", Array("data: a\n\n".utf8) + bom + Array(":x\n\n".utf8),
                [event("data: a"), event(bytes: bom + Array(":x".utf8))]
            ),
            TrickyStream(
                "a partial BOM then a field: the bytes are kept", [0xEF, 0xBB] + Array("data: a\n\n".utf8),
                [event(bytes: [0xEF, 0xBB] + Array("data: a".utf8))]
            ),
            TrickyStream(
                "one BOM byte then a line ending", [0xEF, 0x0A, 0x0A],
                [event(bytes: [0xEF])]
            ),
            TrickyStream(
                "two BOM bytes then CRLF", [0xEF, 0xBB, 0x0D, 0x0A, 0x0D, 0x0A],
                [event(bytes: [0xEF, 0xBB])]
            ),
            TrickyStream(
                "a partial BOM then a colon is no comment", [0xEF, 0xBB] + Array(":x\n\n".utf8),
                [event(bytes: [0xEF, 0xBB] + Array(":x".utf8))]
            ),
            TrickyStream(
                "BOM bytes in the wrong order", [0xEF, 0xEF, 0xBB, 0xBF] + Array("\n\n".utf8),
                [event(bytes: [0xEF, 0xEF, 0xBB, 0xBF])]
            ),
            TrickyStream(
                "BOM then a blank line then an event", bom + Array("\ndata: a\n\n".utf8),
                [event("data: a")]
            ),
            TrickyStream("a partial BOM at the end is dropped", [0xEF, 0xBB], [], dropped: 2),
            TrickyStream(
                "CR only", "data: a\rdata: b\r\rdata: c\r\r", [event("data: a", "data: b"), event("data: c")]),
            TrickyStream(
                "CRLF", "data: a\r\ndata: b\r\n\r\nid: 1\r\n\r\n", [event("data: a", "data: b"), event("id: 1")]),
            TrickyStream(
                "mixed endings", "data: a\rdata: b\ndata: c\r\n\r\ndata: d\n\rdata: e\r\r\n",
                [event("data: a", "data: b", "data: c"), event("data: d"), event("data: e")]
            ),
            TrickyStream("LF CR is two endings", "data: a\n\r", [event("data: a")]),
            TrickyStream("CR CR LF is two endings", "data: a\r\r\n", [event("data: a")]),
            TrickyStream("a CR at the very end dispatches", "data: a\r\n\r", [event("data: a")]),
            TrickyStream("empty data lines", "data:\ndata:\n\ndata:\n\n", [event("data:", "data:"), event("data:")]),
            TrickyStream("data without a colon", "data\n\n", [event("data")]),
            TrickyStream("a colon with no space", "data:x\n\n", [event("data:x")]),
            TrickyStream("two spaces after the colon are kept", "data:  x\n\n", [event("data:  x")]),
            TrickyStream("colons in the value", "data: a:b: c\n\n", [event("data: a:b: c")]),
            TrickyStream("an id containing NUL", "id: a\0b\ndata: x\n\n", [event("id: a\0b", "data: x")]),
            TrickyStream("an empty id", "id:\n\nid\n\n", [event("id:"), event("id")]),
            TrickyStream("retry with non-digits", "retry: 10a\ndata: x\n\n", [event("retry: 10a", "data: x")]),
            TrickyStream(
                "unknown fields are kept as lines", "foo: bar\nData: x\n data: y\nevent\n\n",
                [event("foo: bar", "Data: x", " data: y", "event")]
            ),
            TrickyStream(
                "comments between fields", "data: a\n: one\ndata: b\n:\n::two\n\n",
                [comment(": one"), comment(":"), comment("::two"), event("data: a", "data: b")]
            ),
            TrickyStream(
                "a comment-only block dispatches nothing", ": hi\n\n: there\n\n", [comment(": hi"), comment(": there")]),
            TrickyStream(
                "a comment with CRLF loses its line ending", ": hi\r\ndata: a\r\n\r\n",
                [comment(": hi"), event("data: a")]
            ),
            TrickyStream(
                "multiple blank lines", "\n\n\r\ndata: a\n\n\n\r\r\n\ndata: b\n\n",
                [event("data: a"), event("data: b")]),
            TrickyStream(
                "non-UTF-8 bytes in data are kept byte for byte",
                Array("data: ".utf8) + [0xFF, 0xFE, 0xC3, 0x28, 0x00, 0x80, 0xED, 0xA0, 0x80] + Array("\n\n".utf8),
                [event(bytes: Array("data: ".utf8) + [0xFF, 0xFE, 0xC3, 0x28, 0x00, 0x80, 0xED, 0xA0, 0x80])]
            ),
            TrickyStream(
                "non-UTF-8 bytes in a comment are kept", [0x3A, 0xFF, 0x20, 0xC0, 0x0A],
                [.comment([0x3A, 0xFF, 0x20, 0xC0])]
            ),
            TrickyStream(
                "an unterminated final event is not dispatched", "data: a\n\ndata: b\nid: 2\n",
                [event("data: a")], dropped: "data: b\nid: 2\n".utf8.count
            ),
            TrickyStream(
                "an unterminated final line is not dispatched", "data: a\n\ndata: b\ndata: c",
                [event("data: a")], dropped: "data: b\ndata: c".utf8.count
            ),
            TrickyStream(
                "an unterminated comment is not returned", ": hi\n: partial", [comment(": hi")],
                dropped: ": partial".utf8.count),
            TrickyStream(
                "a final event ended by one line ending only", "data: a\n\ndata: b\r\n",
                [event("data: a")], dropped: "data: b\n".utf8.count
            ),
        ]
    }
}

// MARK: - Random streams

extension EventStreamParserTests {
    static func randomValue(using random: inout SplitMix64, maximumLength: Int = 10) -> [UInt8] {
        let special: [UInt8] = [0x3A, 0x20, 0x00, 0xEF, 0xBB, 0xBF, 0xFF, UInt8(ascii: "a"), UInt8(ascii: "1")]
        return (0..<Int.random(in: 0...maximumLength, using: &random)).map { _ in
            if Bool.random(using: &random) {
                return special.randomElement(using: &random)!
            }
            var byte = UInt8.random(in: 0...255, using: &random)
            while byte == 0x0A || byte == 0x0D {
                byte = UInt8.random(in: 0...255, using: &random)
            }
            return byte
        }
    }

    /// A random stream from a grammar of lines: fields with and without values, comments,
    /// blank lines, each ended by CR, LF or CRLF, sometimes a (partial) BOM at the start and
    /// sometimes no ending on the last line.
    static func randomStream(using random: inout SplitMix64) -> [UInt8] {
        var stream: [UInt8] = []
        switch Int.random(in: 0..<8, using: &random) {
        case 0: stream += bom
        case 1: stream += bom.prefix(Int.random(in: 1...2, using: &random))
        case 2: stream += bom + bom
        default: break
        }
        let endings: [[UInt8]] = [[0x0A], [0x0D], [0x0D, 0x0A]]
        for _ in 0..<Int.random(in: 0...16, using: &random) {
            switch Int.random(in: 0..<11, using: &random) {
            case 0, 1: stream += Array("data: ".utf8) + self.randomValue(using: &random)
            case 2: stream += Array("id: ".utf8) + self.randomValue(using: &random)
            case 3:
                let digits = String(Int.random(in: 0...100_000, using: &random))
                stream +=
                    Array("retry: \(digits)".utf8)
                    + (Bool.random(using: &random) ? [] : self.randomValue(using: &random))
            case 4: stream += Array("event:".utf8) + self.randomValue(using: &random)
            case 5: stream += [0x3A] + self.randomValue(using: &random)
            case 6: stream += Array("x-custom: ".utf8) + self.randomValue(using: &random)
            case 7: stream += Array(["data", "id", "retry", "event"].randomElement(using: &random)!.utf8)
            case 8: stream += self.randomValue(using: &random, maximumLength: 30)
            default: break  // a blank line
            }
            stream += endings.randomElement(using: &random)!
        }
        if Int.random(in: 0..<4, using: &random) == 0 {
            stream += Array("data: ".utf8) + self.randomValue(using: &random)
        }
        return stream
    }

    /// Sorted cut points: a few random ones, or every byte.
    static func randomCuts(count: Int, using random: inout SplitMix64) -> [Int] {
        if Int.random(in: 0..<10, using: &random) == 0 {
            return Array(0...count)
        }
        return (0..<Int.random(in: 1...6, using: &random)).map { _ in Int.random(in: 0...count, using: &random) }
            .sorted()
    }
}
