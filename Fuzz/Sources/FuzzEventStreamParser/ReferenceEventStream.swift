import SSERelayCore

/// What a stream should parse to, computed over the whole input at once and as directly as the
/// HTML standard's "event stream interpretation" reads, with ``EventStreamParser``'s additions:
/// field lines are kept byte for byte, comments are reported, and a line or event larger than
/// the limit fails the stream.
struct ReferenceEventStream {
    /// The events and comments, in order, up to the line that exceeded the limit.
    private(set) var outputs: [EventStreamParser.Output] = []
    /// Whether a line or event exceeded the limit.
    private(set) var exceedsLimit = false
    /// The bytes an ``EventStreamParser/finish()`` drops when the stream ends here: the
    /// unfinished event's lines (each with one byte for its line ending), the unterminated last
    /// line, or a stream that is only the start of a BOM.
    private(set) var droppedAtFinish = 0

    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let colon = UInt8(ascii: ":")

    init(bytes: [UInt8], maximumEventBytes limit: Int) {
        if !bytes.isEmpty, bytes.count < Self.bom.count, Self.bom.starts(with: bytes) {
            self.droppedAtFinish = bytes.count
            return
        }
        var lines: [ServerSentEvent.Line] = []
        var eventBytes = 0
        var index = bytes.starts(with: Self.bom) ? Self.bom.count : 0
        var lineStart = index
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == Self.lineFeed || byte == Self.carriageReturn else {
                index += 1
                continue
            }
            let line = Array(bytes[lineStart..<index])
            index += 1
            if byte == Self.carriageReturn, index < bytes.count, bytes[index] == Self.lineFeed {
                index += 1
            }
            lineStart = index
            if line.isEmpty {
                if !lines.isEmpty {
                    self.outputs.append(.event(ServerSentEvent(lines: lines)))
                }
                lines = []
                eventBytes = 0
            } else if line[0] == Self.colon {
                guard line.count <= limit else {
                    self.exceedsLimit = true
                    return
                }
                self.outputs.append(.comment(line))
            } else {
                eventBytes += line.count + 1
                guard eventBytes <= limit else {
                    self.exceedsLimit = true
                    return
                }
                let name = line.firstIndex(of: Self.colon).map { line[..<$0] } ?? line[...]
                lines.append(ServerSentEvent.Line(field: String(decoding: name, as: UTF8.self), raw: line))
            }
        }
        let tail = bytes.count - lineStart
        if tail > 0 {
            let isComment = bytes[lineStart] == Self.colon
            guard tail + (isComment ? 0 : eventBytes) <= limit else {
                self.exceedsLimit = true
                return
            }
        }
        self.droppedAtFinish = eventBytes + tail
    }
}
