/// An origin-form request target (`/path?query`) in the form a typical backend serves it, so
/// that spellings of one resource match one route and make one stream key.
///
/// Without this, `/api/conversation/X/../X/stream`, `//api/conversation/X/stream` or
/// `/api/conversation/%58/stream` would each be a different key (or no route at all) while the
/// backend answers all of them with the same conversation: a client could bypass collapsing,
/// and a stream request could slip past its route into pass-through.
///
/// The path is normalised in three steps, in this order:
/// 1. percent-encodings of unreserved characters (`ALPHA / DIGIT / - . _ ~`) are decoded and the
///    others upper-cased (RFC 3986 §6.2.2.1–2); an invalid `%` sequence stays as it is. This runs
///    first so that `%2E%2E` is removed as a dot segment like `..` is;
/// 2. runs of `/` are merged, as nginx's `merge_slashes` does before it resolves dot segments;
/// 3. dot segments are removed (RFC 3986 §5.2.4); `..` above the root stays at the root.
///
/// The query is kept twice: ``query`` as the client sent it, which goes upstream (a backend may
/// read repeated parameters in order, and a signed URL's signature covers the bytes as sent), and
/// ``canonicalQuery``, its parameters percent-normalised like the path and sorted by name, which
/// goes into the stream key so that `?a=1&b=2` and `?b=2&a=1` share a stream.
public struct RequestTarget: Sendable, Hashable {
    /// The normalised path; a target that does not start with `/` (`*`, or garbage rejected
    /// before routing) is kept as it is.
    public let path: String
    /// The query as sent, without `?`; `nil` when the target has no `?`.
    public let query: Substring?

    /// Normalises `target`, which is cheap for a target that is already normal: one scan of
    /// the path, no copy.
    public init(normalizing target: String) {
        let queryStart = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = target[..<(queryStart ?? target.endIndex)]
        self.path = Self.normalize(path: rawPath)
        self.query = queryStart.map { target[target.utf8.index(after: $0)...] }
    }

    /// The target sent upstream: the normalised path and the query as the client sent it.
    public var upstreamTarget: String {
        guard let query else { return self.path }
        return "\(self.path)?\(query)"
    }

    /// The query with each `&`-separated parameter percent-normalised, empty parameters dropped
    /// (`a=1&&b=2` is `a=1&b=2` to every query parser), sorted by name bytewise; the sort is
    /// stable, so parameters of one name keep their relative order (`?tag=b&tag=a` is a
    /// different list from `?tag=a&tag=b` to a backend).
    public var canonicalQuery: String {
        guard let query, !query.isEmpty else { return "" }
        let hasPercent = query.utf8.contains(UInt8(ascii: "%"))
        if !hasPercent, Self.isInCanonicalOrder(query) {
            // Most clients send their parameters in one fixed order, often sorted already:
            // then the query is its own canonical form, found in one scan without a copy.
            return String(query)
        }
        let parameters = query.utf8.split(separator: UInt8(ascii: "&"))
        guard hasPercent else {
            // Nothing to normalise: the parameters are sorted where they lie.
            return Self.joined(Self.sortedByName(parameters))
        }
        return Self.joined(Self.sortedByName(parameters.map { Self.percentNormalized(Array($0)) }))
    }

    /// Whether sorting `query`'s parameters would leave it as it is: none is empty, and their
    /// names (the bytes up to the first `=`) never go down bytewise.
    static func isInCanonicalOrder(_ query: Substring) -> Bool {
        HeaderBytes.withUTF8(of: query) { bytes in
            var previousName = bytes[0..<0]
            var start = 0
            // Every step moves past one `&`, so the loop ends.
            while true {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
                guard end != start else { return false }
                let name = bytes[start..<(bytes[start..<end].firstIndex(of: UInt8(ascii: "=")) ?? end)]
                if start != 0, name.lexicographicallyPrecedes(previousName) { return false }
                guard end != bytes.endIndex else { return true }
                previousName = name
                start = end + 1
            }
        }
    }

    /// `parameters` sorted by name (the bytes up to the first `=`), stably.
    private static func sortedByName<Parameter: Collection<UInt8>>(_ parameters: [Parameter]) -> [Parameter] {
        func name(_ parameter: Parameter) -> Parameter.SubSequence {
            parameter.prefix { $0 != UInt8(ascii: "=") }
        }
        return parameters.enumerated().sorted { left, right in
            let (leftName, rightName) = (name(left.element), name(right.element))
            return leftName.lexicographicallyPrecedes(rightName)
                || (leftName.elementsEqual(rightName) && left.offset < right.offset)
        }.map { $0.element }
    }

    /// `parameters` joined with `&`.
    private static func joined(_ parameters: [some Collection<UInt8>]) -> String {
        String(decoding: Array(parameters.joined(separator: [UInt8(ascii: "&")])), as: UTF8.self)
    }

    // MARK: Path

    /// The path, normalised; `path` itself when there is nothing to change.
    static func normalize(path: Substring) -> String {
        guard path.utf8.first == UInt8(ascii: "/") else { return String(path) }
        guard Self.needsNormalizing(path.utf8) else { return String(path) }
        let decoded = Self.percentNormalized(Array(path.utf8))
        // After the leading `/`, merge runs of `/` by dropping empty segments (a last empty one
        // is a trailing slash, which is kept), then resolve `.` and `..`.
        let pieces = decoded.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var output: [ArraySlice<UInt8>] = []
        for (index, piece) in pieces.enumerated() {
            let isLast = index == pieces.count - 1
            if piece.isEmpty, !isLast { continue }
            if piece.elementsEqual(".".utf8) || piece.elementsEqual("..".utf8) {
                if piece.count == 2, !output.isEmpty {
                    output.removeLast()
                }
                // `/a/b/..` is `/a/`: the directory, not the file.
                if isLast { output.append([]) }
                continue
            }
            output.append(piece)
        }
        return "/" + String(decoding: Array(output.joined(separator: [UInt8(ascii: "/")])), as: UTF8.self)
    }

    /// Whether `path` holds a `%`, a `//`, or a segment that starts with `.` (maybe a dot
    /// segment): anything else is normal already.
    private static func needsNormalizing(_ path: Substring.UTF8View) -> Bool {
        var previous: UInt8 = 0
        for byte in path {
            if byte == UInt8(ascii: "%") { return true }
            if previous == UInt8(ascii: "/"), byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".") { return true }
            previous = byte
        }
        return false
    }

    // MARK: Percent-encoding

    /// `bytes` with percent-encodings of unreserved characters decoded and the others
    /// upper-cased; a `%` not followed by two hex digits is left as it is.
    static func percentNormalized(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "%")) else { return bytes }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = Self.hexValue(bytes[index + 1]), let low = Self.hexValue(bytes[index + 2])
            {
                let decoded = high << 4 | low
                // A decoded hex digit right after a stray `%` (or `%` and one digit) would make
                // an escape that was not there, and a second pass would decode it: `%4%31`.
                let completesEscape =
                    Self.hexValue(decoded) != nil
                    && (output.last == UInt8(ascii: "%")
                        || (output.count >= 2 && output[output.count - 2] == UInt8(ascii: "%")
                            && Self.hexValue(output[output.count - 1]) != nil))
                if Self.isUnreserved(decoded), !completesEscape {
                    output.append(decoded)
                } else {
                    output.append(contentsOf: [byte, Self.upperHex(high), Self.upperHex(low)])
                }
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
        return output
    }

    /// `ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 §2.3).
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// The value of one hex digit, either case.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func upperHex(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }
}
