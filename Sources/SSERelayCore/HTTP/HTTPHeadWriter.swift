import NIOCore
import NIOHTTP1

/// Writes an HTTP/1 message head into one buffer sized for it in advance: the start line, every
/// header field in order, the empty line.
///
/// NIO's encoders write a head with a `ByteBuffer` write per piece (four per header field), and
/// each write checks the capacity, may grow the buffer, and begins a dynamically enforced
/// exclusive access to its storage: 57 writes for a proxied request's two heads, about 5 % of
/// the relay's instructions for it. Here the head's size is counted first (a native string knows its UTF-8
/// length), the buffer is allocated once at that size, and the pieces are copied into its
/// memory in one pass.
///
/// The bytes are exactly NIO's: `Tests/SSERelayCoreTests/HTTP/MessageEncodingTests.swift`
/// compares the two encoders' output.
struct HTTPHeadWriter {
    private let bytes: UnsafeMutableRawBufferPointer
    /// How many bytes are written so far.
    private(set) var count = 0

    private init(_ bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    /// A buffer holding a head: a start line of `startLineLength` bytes (its CRLF included) that
    /// `writeStartLine` writes, then `headers`, then the empty line.
    static func head(
        startLineLength: Int,
        headers: HTTPHeaders,
        allocator: ByteBufferAllocator,
        writeStartLine: (inout HTTPHeadWriter) -> Void
    ) -> ByteBuffer {
        let length = startLineLength + Self.length(of: headers)
        var buffer = allocator.buffer(capacity: length)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { bytes in
            var writer = HTTPHeadWriter(bytes)
            writeStartLine(&writer)
            writer.append(headers)
            assert(writer.count == length, "a head's size was counted as \(length), \(writer.count) bytes written")
            return writer.count
        }
        return buffer
    }

    /// `headers` as a header section: each field, then the empty line that ends the head (or a
    /// chunked body's trailers).
    static func section(_ headers: HTTPHeaders, allocator: ByteBufferAllocator, prefix: StaticString = "")
        -> ByteBuffer
    {
        Self.head(startLineLength: prefix.utf8CodeUnitCount, headers: headers, allocator: allocator) { writer in
            writer.append(prefix)
        }
    }

    /// The size of `headers` on the wire: `name: value` and CRLF per field, then CRLF.
    private static func length(of headers: HTTPHeaders) -> Int {
        var length = 2
        for (name, value) in headers {
            length += name.utf8.count + 2 + value.utf8.count + 2
        }
        return length
    }

    /// The size of `HTTP/<major>.<minor>`.
    static func length(of version: HTTPVersion) -> Int {
        5 + Self.decimalLength(of: Self.number(version.major)) + 1 + Self.decimalLength(of: Self.number(version.minor))
    }

    /// How many decimal digits `value` takes.
    static func decimalLength(of value: UInt) -> Int {
        var magnitude = value
        var digits = 1
        // Bounded: a 64-bit value has at most 20 digits.
        while magnitude >= 10 {
            magnitude /= 10
            digits += 1
        }
        return digits
    }

    /// A version number as written: NIO keeps each in 16 bits, so it is never negative.
    private static func number(_ versionNumber: Int) -> UInt {
        UInt(truncatingIfNeeded: versionNumber)
    }

    mutating func append(_ text: String) {
        let copied = text.utf8.withContiguousStorageIfAvailable { source in
            UnsafeMutableRawBufferPointer(rebasing: self.bytes[self.count...])
                .copyMemory(from: UnsafeRawBufferPointer(source))
            return source.count
        }
        if let copied {
            self.count += copied
            return
        }
        for byte in text.utf8 {
            self.append(byte)
        }
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { source in
            UnsafeMutableRawBufferPointer(rebasing: self.bytes[self.count...])
                .copyMemory(from: UnsafeRawBufferPointer(source))
        }
        self.count += text.utf8CodeUnitCount
    }

    mutating func append(_ byte: UInt8) {
        self.bytes[self.count] = byte
        self.count += 1
    }

    /// `value` in decimal, as `String(value)` spells it.
    mutating func append(decimal value: UInt) {
        let digits = Self.decimalLength(of: value)
        var remainder = value
        for position in stride(from: self.count + digits - 1, through: self.count, by: -1) {
            self.bytes[position] = UInt8(ascii: "0") + UInt8(remainder % 10)
            remainder /= 10
        }
        self.count += digits
    }

    /// `HTTP/<major>.<minor>`.
    mutating func append(_ version: HTTPVersion) {
        self.append("HTTP/" as StaticString)
        self.append(decimal: Self.number(version.major))
        self.append(UInt8(ascii: "."))
        self.append(decimal: Self.number(version.minor))
    }

    mutating func appendLineEnd() {
        self.append("\r\n" as StaticString)
    }

    private mutating func append(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            self.append(name)
            self.append(": " as StaticString)
            self.append(value)
            self.appendLineEnd()
        }
        self.appendLineEnd()
    }
}
