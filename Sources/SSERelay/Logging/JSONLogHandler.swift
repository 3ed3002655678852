public import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one JSON object per line to stderr, for journald and log shippers:
///
/// ```
/// {"ts":"2026-11-25T17:20:00.123Z","level":"info","msg":"request","label":"sse-relay","method":"GET","status":200}
/// ```
///
/// Metadata keys become top-level keys (`ts`, `level`, `msg`, `label` and a logged error win a
/// clash). Each line
/// goes out in one `write(2)` to file descriptor 2, unbuffered, so a line is never held back in
/// memory and lines from different threads do not interleave (writes up to `PIPE_BUF` bytes to
/// a pipe, such as journald's, are atomic).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = self.metadata
        if let provided = self.metadataProvider?.get() {
            fields.merge(provided) { _, new in new }
        }
        if let metadata = event.metadata {
            fields.merge(metadata) { _, new in new }
        }
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(event.level.rawValue)\",\"msg\":"
        JSONText.appendString(event.message.description, to: &line)
        line += ",\"label\":"
        JSONText.appendString(self.label, to: &line)
        if let error = event.error {
            line += ",\"error\":"
            JSONText.appendString("\(error)", to: &line)
        }
        let reserved: Set<String> =
            event.error == nil ? ["ts", "level", "msg", "label"] : ["ts", "level", "msg", "label", "error"]
        for key in fields.keys.sorted() where !reserved.contains(key) {
            line += ","
            JSONText.appendString(key, to: &line)
            line += ":"
            if let value = fields[key] {
                JSONText.append(value, to: &line)
            }
        }
        line += "}\n"
        Self.writeToStandardError(line)
    }

    private static func writeToStandardError(_ line: String) {
        var line = line
        line.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            // Bounded: every pass writes at least one byte or gives up.
            while offset < bytes.count {
                let written = write(2, base + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    /// UTC time with milliseconds, RFC 3339.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}

/// JSON text building for log lines.
enum JSONText {
    static func append(_ value: Logger.MetadataValue, to text: inout String) {
        switch value {
        case .string(let string):
            self.appendString(string, to: &text)
        case .stringConvertible(let convertible):
            // Numbers and booleans stay numbers and booleans, so log queries can compare them.
            switch convertible {
            case is any BinaryInteger, is Bool:
                text += convertible.description
            case let number as Double where number.isFinite:
                text += convertible.description
            case let number as Float where number.isFinite:
                text += convertible.description
            default:
                self.appendString(convertible.description, to: &text)
            }
        case .array(let values):
            text += "["
            for (index, element) in values.enumerated() {
                if index > 0 { text += "," }
                self.append(element, to: &text)
            }
            text += "]"
        case .dictionary(let dictionary):
            text += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { text += "," }
                self.appendString(key, to: &text)
                text += ":"
                if let element = dictionary[key] {
                    self.append(element, to: &text)
                }
            }
            text += "}"
        }
    }

    /// Appends `string` as a JSON string literal, escaping quotes, backslashes and controls.
    static func appendString(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
