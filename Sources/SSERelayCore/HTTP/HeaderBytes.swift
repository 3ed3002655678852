/// Byte-level tests on header names and values, for the code every request runs through.
///
/// They read a string's UTF-8 bytes in place: no lowercased copies, no `Character` iteration
/// (which breaks text into grapheme clusters and costs far more than a header needs). Header
/// names are tokens, so comparing them ignoring ASCII case is exact.
enum HeaderBytes {
    /// Whether `name` is `lowercasedName` ignoring ASCII case; `lowercasedName` must be ASCII
    /// lowercase. Different lengths answer at once.
    static func name(_ name: some StringProtocol, is lowercasedName: StaticString) -> Bool {
        lowercasedName.withUTF8Buffer { expected in
            Self.withUTF8(of: name) { bytes in
                bytes.count == expected.count && Self.startsIgnoringCase(bytes, with: expected)
            }
        }
    }

    /// Whether `name` starts with `lowercasedPrefix` ignoring ASCII case; `lowercasedPrefix`
    /// must be ASCII lowercase.
    static func name(_ name: some StringProtocol, hasPrefix lowercasedPrefix: StaticString) -> Bool {
        lowercasedPrefix.withUTF8Buffer { expected in
            Self.withUTF8(of: name) { bytes in
                bytes.count >= expected.count && Self.startsIgnoringCase(bytes, with: expected)
            }
        }
    }

    /// Calls `body` with each element of the comma-separated list `value` (RFC 9110 §5.6.1),
    /// without the optional white space around it; empty elements are skipped.
    static func forEachListElement(in value: String, _ body: (Substring) -> Void) {
        let utf8 = value.utf8
        Self.withUTF8(of: value) { bytes in
            var start = 0
            // Bounded: every round moves `start` past one comma or to the end.
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: ",") {
                    end += 1
                }
                var first = start
                var last = end
                while first < last, Self.isOptionalWhiteSpace(bytes[first]) {
                    first += 1
                }
                while last > first, Self.isOptionalWhiteSpace(bytes[last - 1]) {
                    last -= 1
                }
                if first < last {
                    // An offset into a native string's UTF-8 view is a constant-time index.
                    let lower = utf8.index(utf8.startIndex, offsetBy: first)
                    let upper = utf8.index(utf8.startIndex, offsetBy: last)
                    body(value[lower..<upper])
                }
                start = end + 1
            }
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

    /// Calls `body` with the UTF-8 bytes of `text`: in place for a native string, from a copy
    /// otherwise.
    static func withUTF8<Result>(
        of text: some StringProtocol, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) {
            return result
        }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    /// Whether `bytes` starts with `lowercased` ignoring ASCII case; `bytes` is at least as long.
    private static func startsIgnoringCase(
        _ bytes: UnsafeBufferPointer<UInt8>, with lowercased: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        for index in 0..<lowercased.count where Self.lowercased(bytes[index]) != lowercased[index] {
            return false
        }
        return true
    }

    private static func isOptionalWhiteSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// `byte` with `A`–`Z` turned into `a`–`z`.
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }
}
