public import NIOCore

/// An incremental parser of `text/event-stream` bytes, following the HTML Living Standard's
/// "Server-sent events" parsing rules on chunks split anywhere.
///
/// - One UTF-8 BOM at the very start is ignored.
/// - Lines end in CRLF, LF or CR; a CR that ends one chunk and an LF that starts the next are
///   one line ending.
/// - A line starting with `:` is a comment, returned as ``Output/comment(_:)`` at once.
/// - An empty line ends the event: its field lines are returned as ``Output/event(_:)``. A
///   block with no field lines (only comments, or blank lines in a row) yields nothing.
/// - What follows the last empty line is held; ``finish()`` drops it, as browsers do.
///
/// Work is linear in the input: every byte is scanned once, and a partial line waits in one
/// growing buffer. A line or an event longer than ``maximumEventBytes`` throws
/// ``EventStreamParserError/eventTooLarge(limit:)`` instead of growing without bound.
public struct EventStreamParser: Sendable {
    /// What the parser found in the bytes fed so far.
    public enum Output: Sendable, Hashable {
        case event(ServerSentEvent)
        /// A comment line without its line ending, including the leading `:`.
        case comment([UInt8])
    }

    /// The largest event (its field lines together) or line accepted, in bytes.
    public let maximumEventBytes: Int

    private var partialLine: [UInt8] = []
    private var lines: [ServerSentEvent.Line] = []
    private var eventBytes = 0
    /// Whether the previous chunk ended in CR, so a leading LF of the next one is skipped.
    private var skipLeadingLF = false
    /// Bytes of a possible BOM seen at the start of the stream; `nil` once past it.
    private var bomProgress: Int? = 0

    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// 1 MiB: far above any real event, far below what would hurt the relay.
    public static let defaultMaximumEventBytes = 1 << 20

    public init(maximumEventBytes: Int = defaultMaximumEventBytes) {
        self.maximumEventBytes = maximumEventBytes
    }

    /// Parses the next chunk; returns the events and comments it completes, in order.
    public mutating func feed(_ buffer: ByteBuffer) throws(EventStreamParserError) -> [Output] {
        var outputs: [Output] = []
        try buffer.withUnsafeReadableBytes { bytes throws(EventStreamParserError) in
            try self.feed(bytes, into: &outputs)
        }
        return outputs
    }

    /// Parses the next chunk given as bytes.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(EventStreamParserError) -> [Output] {
        try self.feed(ByteBuffer(bytes: bytes))
    }

    /// Ends the stream: an unterminated event is dropped, as browsers drop it. Returns the
    /// number of bytes dropped, for logs.
    @discardableResult
    public mutating func finish() -> Int {
        // Bytes of a partial BOM at the end are content too: they were never a BOM.
        let dropped = self.eventBytes + self.partialLine.count + (self.bomProgress ?? 0)
        self.partialLine.removeAll()
        self.lines.removeAll()
        self.eventBytes = 0
        self.bomProgress = nil
        return dropped
    }

    private mutating func feed(_ bytes: UnsafeRawBufferPointer, into outputs: inout [Output])
        throws(EventStreamParserError)
    {
        var index = 0
        let count = bytes.count
        if let progress = self.bomProgress {
            index = self.skipBOM(bytes, progress: progress)
            if self.bomProgress != nil { return }
        }
        if self.skipLeadingLF, index < count {
            self.skipLeadingLF = false
            if bytes[index] == UInt8(ascii: "\n") { index += 1 }
        }
        var lineStart = index
        while index < count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") else {
                index += 1
                continue
            }
            self.partialLine.append(contentsOf: bytes[lineStart..<index])
            try self.endLine(into: &outputs)
            index += 1
            if byte == UInt8(ascii: "\r") {
                if index < count {
                    if bytes[index] == UInt8(ascii: "\n") { index += 1 }
                } else {
                    self.skipLeadingLF = true
                }
            }
            lineStart = index
        }
        if lineStart < count {
            self.partialLine.append(contentsOf: bytes[lineStart..<count])
            // A comment is no part of the event: it counts alone, as it does once it ends.
            let isComment = self.partialLine.first == UInt8(ascii: ":")
            if self.partialLine.count + (isComment ? 0 : self.eventBytes) > self.maximumEventBytes {
                throw .eventTooLarge(limit: self.maximumEventBytes)
            }
        }
    }

    /// Consumes BOM bytes at the start of the stream; returns where the stream's own bytes
    /// begin. Bytes that turn out not to be a BOM are put back as the start of the first line.
    private mutating func skipBOM(_ bytes: UnsafeRawBufferPointer, progress: Int) -> Int {
        var matched = progress
        var index = 0
        while matched < Self.bom.count, index < bytes.count {
            guard bytes[index] == Self.bom[matched] else {
                // Not a BOM: the bytes matched so far are ordinary content.
                self.partialLine.append(contentsOf: Self.bom[0..<matched])
                self.bomProgress = nil
                return index
            }
            matched += 1
            index += 1
        }
        self.bomProgress = matched == Self.bom.count ? nil : matched
        return index
    }

    private mutating func endLine(into outputs: inout [Output]) throws(EventStreamParserError) {
        let line = self.partialLine
        self.partialLine.removeAll(keepingCapacity: true)
        guard let first = line.first else {
            if !self.lines.isEmpty {
                outputs.append(.event(ServerSentEvent(lines: self.lines)))
                self.lines.removeAll(keepingCapacity: true)
                self.eventBytes = 0
            }
            return
        }
        if first == UInt8(ascii: ":") {
            // Checked here too, so a long comment throws however the chunks were cut.
            if line.count > self.maximumEventBytes {
                throw .eventTooLarge(limit: self.maximumEventBytes)
            }
            outputs.append(.comment(line))
            return
        }
        self.eventBytes += line.count + 1
        if self.eventBytes > self.maximumEventBytes {
            throw .eventTooLarge(limit: self.maximumEventBytes)
        }
        let nameEnd = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        self.lines.append(ServerSentEvent.Line(field: String(decoding: line[..<nameEnd], as: UTF8.self), raw: line))
    }
}

/// Why an SSE stream could not be parsed.
public enum EventStreamParserError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A line or an event exceeded the parser's limit; the stream cannot be relayed safely.
    case eventTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .eventTooLarge(let limit):
            return "an SSE event or line exceeds \(limit) bytes"
        }
    }
}
