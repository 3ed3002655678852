/// One event of an SSE stream as the upstream sent it: its field lines, byte for byte, and
/// what the HTML standard's algorithm makes of them.
///
/// The relay re-emits events from ``lines`` so `data` payloads reach clients unchanged; only
/// `id` and `retry` lines are ever added or dropped.
public struct ServerSentEvent: Sendable, Hashable {
    /// One field line, without its line ending.
    public struct Line: Sendable, Hashable {
        /// The field name: the text before the first colon, or the whole line without one.
        public var field: String
        /// The whole line as received.
        public var raw: [UInt8]

        public init(field: String, raw: [UInt8]) {
            self.field = field
            self.raw = raw
        }
    }

    /// The field lines in order (comments are not part of an event).
    public var lines: [Line]

    public init(lines: [Line]) {
        self.lines = lines
    }

    /// The id the event sets, when it has an `id` line whose value is non-empty and free of
    /// U+0000 (the last such line wins; an empty or NUL-containing id counts as none).
    public var upstreamID: String? {
        var id: String?
        for line in self.lines where line.field == "id" {
            let value = ServerSentEvent.value(of: line.raw)
            guard !value.contains(0) else { continue }
            id = String(decoding: value, as: UTF8.self)
        }
        return id.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The reconnection time the event sets, when a `retry` line holds only ASCII digits.
    public var retry: Int? {
        var retry: Int?
        for line in self.lines where line.field == "retry" {
            let value = ServerSentEvent.value(of: line.raw)
            guard !value.isEmpty, value.allSatisfy({ (0x30...0x39).contains($0) }) else { continue }
            retry = Int(String(decoding: value, as: UTF8.self)) ?? retry
        }
        return retry
    }

    /// The `data` of the event as a browser dispatches it: the data lines joined by LF, or
    /// `nil` when the event has no data line (a browser then dispatches nothing).
    public var data: String? {
        let values = self.lines.filter { $0.field == "data" }.map {
            String(decoding: ServerSentEvent.value(of: $0.raw), as: UTF8.self)
        }
        return values.isEmpty ? nil : values.joined(separator: "\n")
    }

    /// The event type (`event` field), when given.
    public var type: String? {
        self.lines.last { $0.field == "event" }.map {
            String(decoding: ServerSentEvent.value(of: $0.raw), as: UTF8.self)
        }
    }

    /// The value part of a field line: after the first colon, less one leading space; empty for
    /// a line without a colon.
    static func value(of raw: [UInt8]) -> ArraySlice<UInt8> {
        guard let colon = raw.firstIndex(of: UInt8(ascii: ":")) else { return [] }
        var value = raw[(colon + 1)...]
        if value.first == UInt8(ascii: " ") {
            value = value.dropFirst()
        }
        return value
    }
}
