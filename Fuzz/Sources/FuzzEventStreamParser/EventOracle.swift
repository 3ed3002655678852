import FuzzSupport
import NIOCore
import SSERelayCore

/// Checks on what the parser produced and on the way the relay writes it out again.
///
/// Invariants:
/// - `event-shape`: a comment starts with `:`; an event has at least one line; no line is empty
///   or holds CR or LF; a line's field is the text before its first colon; an ``upstreamID`` is
///   non-empty and free of NUL; a ``retry`` is not negative.
/// - `writer-round-trip`: what ``EventStreamWriter`` writes for an event (after the preamble
///   every stream response starts with) parses back to the same event, with its `id` lines
///   replaced by the relay id when one is given and its `retry` lines gone when the route sets
///   its own; a comment parses back to itself.
enum EventOracle {
    /// Events checked by a round trip per input; each costs four encodes and parses.
    static let roundTripLimit = 16

    static let relayID = "0123456789abcdef-7"
    static let primingID = "0123456789abcdef-0"

    static func check(_ outputs: [EventStreamParser.Output]) {
        for (index, output) in outputs.enumerated() {
            switch output {
            case .comment(let line):
                self.checkShape(comment: line)
                if index < self.roundTripLimit {
                    self.roundTrip(comment: line)
                }
            case .event(let event):
                self.checkShape(event)
                if index < self.roundTripLimit {
                    for dropsUpstreamRetry in [false, true] {
                        for relayID in [nil, self.relayID] {
                            self.roundTrip(event, relayID: relayID, dropsUpstreamRetry: dropsUpstreamRetry)
                        }
                    }
                }
            }
        }
    }

    private static func checkShape(comment line: [UInt8]) {
        Oracle.check(line.first == UInt8(ascii: ":"), "event-shape", "comment without a colon: \(line)")
        Oracle.check(!self.hasLineBreak(line), "event-shape", "comment with a line break: \(line)")
    }

    private static func checkShape(_ event: ServerSentEvent) {
        Oracle.check(!event.lines.isEmpty, "event-shape", "event without lines")
        for line in event.lines {
            Oracle.check(
                !line.raw.isEmpty && line.raw.first != UInt8(ascii: ":") && !self.hasLineBreak(line.raw),
                "event-shape", "bad field line \(line.raw)")
            let name = line.raw.firstIndex(of: UInt8(ascii: ":")).map { line.raw[..<$0] } ?? line.raw[...]
            Oracle.check(
                line.field == String(decoding: name, as: UTF8.self), "event-shape",
                "field \(line.field) of line \(line.raw)")
        }
        if let id = event.upstreamID {
            Oracle.check(!id.isEmpty && !id.utf8.contains(0), "event-shape", "upstream id \(Array(id.utf8))")
        }
        if let retry = event.retry {
            Oracle.check(retry >= 0, "event-shape", "negative retry \(retry)")
        }
        _ = event.data
        _ = event.type
    }

    private static func roundTrip(_ event: ServerSentEvent, relayID: String?, dropsUpstreamRetry: Bool) {
        let writer = EventStreamWriter(dropsUpstreamRetry: dropsUpstreamRetry)
        var written = writer.preamble(retryMs: 2000, primingID: self.primingID, allocator: ByteBufferAllocator())
        var encoded = writer.encode(event, relayID: relayID, allocator: ByteBufferAllocator())
        written.writeBuffer(&encoded)

        var expectedLines = event.lines.filter { line in
            !(relayID != nil && line.field == "id") && !(dropsUpstreamRetry && line.field == "retry")
        }
        if let relayID {
            expectedLines.append(ServerSentEvent.Line(field: "id", raw: Array("id: \(relayID)".utf8)))
        }
        var expected = [self.preambleEvent]
        if !expectedLines.isEmpty {
            expected.append(.event(ServerSentEvent(lines: expectedLines)))
        }
        let parsed = self.parse(written)
        Oracle.check(
            parsed == expected, "writer-round-trip",
            "relay id \(relayID ?? "none"), drops retry \(dropsUpstreamRetry): wrote \(Array(written.readableBytesView)), parsed \(parsed ?? [])"
        )
        if let relayID, case .event(let reparsed)? = parsed?.last {
            Oracle.check(
                reparsed.upstreamID == relayID, "writer-round-trip",
                "relay id \(relayID) read back as \(reparsed.upstreamID ?? "none")")
        }
    }

    private static func roundTrip(comment line: [UInt8]) {
        let writer = EventStreamWriter(dropsUpstreamRetry: true)
        var written = writer.preamble(retryMs: nil, primingID: self.primingID, allocator: ByteBufferAllocator())
        var comment = writer.comment(line, allocator: ByteBufferAllocator())
        written.writeBuffer(&comment)
        let parsed = self.parse(written)
        let expected: [EventStreamParser.Output] = [
            .event(ServerSentEvent(lines: [.init(field: "id", raw: Array("id: \(self.primingID)".utf8))])),
            .comment(line),
        ]
        Oracle.check(
            parsed == expected, "writer-round-trip", "comment \(line) read back as \(parsed ?? [])")
    }

    private static let preambleEvent = EventStreamParser.Output.event(
        ServerSentEvent(lines: [
            .init(field: "retry", raw: Array("retry: 2000".utf8)),
            .init(field: "id", raw: Array("id: \(primingID)".utf8)),
        ]))

    /// Everything in `buffer` as a client parses it, or `nil` if it does not parse.
    private static func parse(_ buffer: ByteBuffer) -> [EventStreamParser.Output]? {
        var parser = EventStreamParser(maximumEventBytes: .max)
        return try? parser.feed(buffer)
    }

    private static func hasLineBreak(_ bytes: [UInt8]) -> Bool {
        bytes.contains(UInt8(ascii: "\n")) || bytes.contains(UInt8(ascii: "\r"))
    }
}
