/// Byte-level tests on header names and values, for the code every request runs through.
///
/// They read a string's UTF-8 bytes in place: no lowercased copies, no `Character` iteration
/// (which breaks text into grapheme clusters and costs far more than a header needs). Header
/// names are tokens, so comparing them ignoring ASCII case is exact.
enum HeaderBytes {
    /// Whether `name` is `lowercasedName` ignoring ASCII case; `lowercasedName` must be ASCII
    /// lowercase. Different lengths answer at once.
    static func name(_ name: some StringProtocol, is lowercasedName: String) -> Bool {
        let bytes = name.utf8
        let expected = lowercasedName.utf8
        guard bytes.count == expected.count else { return false }
        let contiguous = bytes.withContiguousStorageIfAvailable { bytes in
            expected.withContiguousStorageIfAvailable { expected in
                Self.equalIgnoringCase(bytes, expected)
            }
        }
        if let contiguous, let equal = contiguous {
            return equal
        }
        return Self.equalIgnoringCase(Array(bytes), Array(expected))
    }

    /// Whether `name` starts with `lowercasedPrefix` ignoring ASCII case; `lowercasedPrefix`
    /// must be ASCII lowercase.
    static func name(_ name: some StringProtocol, hasPrefix lowercasedPrefix: String) -> Bool {
        let bytes = name.utf8
        let expected = lowercasedPrefix.utf8
        guard bytes.count >= expected.count else { return false }
        return zip(bytes, expected).allSatisfy { byte, expected in Self.lowercased(byte) == expected }
    }

    /// Calls `body` with each element of the comma-separated list `value` (RFC 9110 §5.6.1),
    /// without the optional white space around it; empty elements are skipped.
    static func forEachListElement(in value: String, _ body: (Substring) -> Void) {
        let bytes = value.utf8
        var start = bytes.startIndex
        // Bounded: every round moves `start` past one comma or to the end.
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
            var first = start
            var last = end
            while first < last, Self.isOptionalWhiteSpace(bytes[first]) {
                first = bytes.index(after: first)
            }
            while last > first, Self.isOptionalWhiteSpace(bytes[bytes.index(before: last)]) {
                last = bytes.index(before: last)
            }
            if first < last {
                body(value[first..<last])
            }
            start = end == bytes.endIndex ? end : bytes.index(after: end)
        }
    }

    /// The replacement character U+FFFD in UTF-8: what NIO's decoder puts in a header string
    /// where the bytes on the wire were not UTF-8.
    private static let replacementCharacter: (UInt8, UInt8, UInt8) = (0xEF, 0xBF, 0xBD)

    /// Whether `text` contains U+FFFD.
    static func containsReplacementCharacter(_ text: String) -> Bool {
        if let found = text.utf8.withContiguousStorageIfAvailable(Self.containsReplacementCharacter) {
            return found
        }
        return Self.containsReplacementCharacter(Array(text.utf8))
    }

    private static func containsReplacementCharacter<Bytes: RandomAccessCollection<UInt8>>(
        _ bytes: Bytes
    ) -> Bool where Bytes.Index == Int {
        let (first, second, third) = Self.replacementCharacter
        var index = bytes.startIndex
        while index + 2 < bytes.endIndex {
            if bytes[index] == first, bytes[index + 1] == second, bytes[index + 2] == third {
                return true
            }
            index += 1
        }
        return false
    }

    private static func equalIgnoringCase(
        _ bytes: some RandomAccessCollection<UInt8>, _ expected: some RandomAccessCollection<UInt8>
    ) -> Bool {
        zip(bytes, expected).allSatisfy { byte, expected in Self.lowercased(byte) == expected }
    }

    private static func isOptionalWhiteSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// `byte` with `A`–`Z` turned into `a`–`z`.
    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }
}
