/// A path pattern such as `/api/conversation/:conversationId/stream`.
///
/// Segments starting with `:` capture one non-empty path segment under that name; every other
/// segment must match exactly. The query string is not part of the pattern.
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    /// One `/`-separated piece of the pattern.
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    public let segments: [Segment]
    public let description: String

    private init(segments: [Segment], description: String) {
        self.segments = segments
        self.description = description
    }

    /// `/api/conversation/:conversationId/stream`, the route of the embedded defaults.
    public static let conversationStream = RoutePattern(
        segments: [.literal("api"), .literal("conversation"), .parameter("conversationId"), .literal("stream")],
        description: "/api/conversation/:conversationId/stream"
    )

    /// Parses a pattern such as `/api/conversation/:conversationId/stream`.
    public init(parsing text: String) throws(RoutePatternError) {
        guard text.hasPrefix("/") else {
            throw RoutePatternError(
                "expected a path starting with / such as /api/conversation/:conversationId/stream")
        }
        var names: Set<String> = []
        var segments: [Segment] = []
        for piece in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if piece.hasPrefix(":") {
                let name = String(piece.dropFirst())
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw RoutePatternError("parameter names are letters, digits and _ after a colon")
                }
                guard names.insert(name).inserted else {
                    throw RoutePatternError("parameter :\(name) appears twice")
                }
                segments.append(.parameter(name))
            } else {
                guard !piece.contains(where: { $0 == "?" || $0 == "#" || $0 == " " }) else {
                    throw RoutePatternError("a path pattern holds no query, fragment or space")
                }
                segments.append(.literal(String(piece)))
            }
        }
        self.segments = segments
        self.description = text
    }

    /// The captured parameters, in pattern order, when `path` (without its query) matches.
    public func match(path: Substring) -> [(name: String, value: String)]? {
        // Bytes, not `Character`s: a path is matched as it goes over the wire, and a separator
        // is a `/` byte whatever follows it. Every stream request is routed, so the bytes are
        // read in place.
        HeaderBytes.withUTF8(of: path) { self.match(bytes: $0) }
    }

    private func match(bytes: UnsafeBufferPointer<UInt8>) -> [(name: String, value: String)]? {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        var captures: [(name: String, value: String)] = []
        var start = 1
        for (index, segment) in self.segments.enumerated() {
            let isLast = index == self.segments.count - 1
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            if isLast ? end != bytes.endIndex : end == bytes.endIndex {
                return nil
            }
            let piece = UnsafeBufferPointer(rebasing: bytes[start..<end])
            switch segment {
            case .literal(let literal):
                guard literal.utf8.count == piece.count, literal.utf8.elementsEqual(piece) else { return nil }
            case .parameter(let name):
                guard !piece.isEmpty else { return nil }
                captures.append((name, String(decoding: piece, as: UTF8.self)))
            }
            start = end + 1
        }
        return captures
    }
}
