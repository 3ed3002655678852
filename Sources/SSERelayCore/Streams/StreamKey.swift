import Crypto
public import NIOHTTP1

/// What decides whether two stream requests share an upstream: the route, its captured
/// parameters, the query (unless `keyIncludesQuery` is off) and a SHA-256 digest of the request
/// headers that may carry identity.
///
/// Both the route match and the query come from the ``RequestTarget`` normalised form, so
/// spellings of one resource share one key. Which headers count is the route's rule: by default
/// every header except ``StreamIdentityHeaders``' lists and the route's `ignoreHeaders`;
/// with an explicit `varyHeaders` exactly those. Users with different credentials, in whatever
/// header, therefore never share a stream, and a response's CORS headers always match the
/// origin that asked.
///
/// The digest keeps the credentials themselves out of the key, which is shown in `/streams` and
/// logs; so does ``shownQuery``, the query with credential-like parameters redacted, made once
/// here rather than on every report.
public struct StreamKey: Sendable, Hashable, CustomStringConvertible {
    /// The route pattern, as configured.
    public var route: String
    /// The captured parameters, in pattern order.
    public var parameters: [Parameter]
    /// The query in canonical order (``RequestTarget/canonicalQuery``) without `?`, or empty.
    public var query: String
    /// ``query`` with the values of credential-like parameters redacted: what may be shown.
    public var shownQuery: String
    /// Hex SHA-256 of the key headers' names and values.
    public var varyDigest: String
    /// The headers that went into ``varyDigest``, sorted by name, each with a digest of its own
    /// values (never the values), so that two keys can tell which headers kept them apart.
    public var headers: [Header]

    /// One captured route parameter.
    public struct Parameter: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// One header that is part of the key: its lowercased name and a SHA-256 of its values.
    public struct Header: Sendable, Hashable {
        public let name: String
        let valuesDigest: ValuesDigest
    }

    /// A SHA-256 as four words: `SHA256Digest` is not `Sendable`, and this needs no allocation.
    struct ValuesDigest: Sendable, Hashable {
        var words: (UInt64, UInt64, UInt64, UInt64)

        init(_ digest: SHA256Digest) {
            var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            withUnsafeMutableBytes(of: &words) { target in
                digest.withUnsafeBytes { source in target.copyMemory(from: source) }
            }
            self.words = words
        }

        static func == (left: ValuesDigest, right: ValuesDigest) -> Bool {
            left.words == right.words
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(self.words.0)
            hasher.combine(self.words.1)
            hasher.combine(self.words.2)
            hasher.combine(self.words.3)
        }
    }

    /// A key from its parts, for tests and tools; `headers` is left empty.
    public init(
        route: String, parameters: [Parameter], query: String, varyDigest: String,
        redaction: QueryRedaction = .standard
    ) {
        self.route = route
        self.parameters = parameters
        self.query = query
        self.shownQuery = redaction.redacting(query: query[...])
        self.varyDigest = varyDigest
        self.headers = []
    }

    /// The key of a request to `route`, or `nil` when its normalised path does not match the
    /// route.
    public init?(
        route: StreamRouteConfiguration, target: RequestTarget, headers: HTTPHeaders, redaction: QueryRedaction
    ) {
        guard let captures = route.path.match(path: target.path[...]) else { return nil }
        self.route = route.path.description
        self.parameters = captures.map { Parameter(name: $0.name, value: $0.value) }
        self.query = route.keyIncludesQuery ? target.canonicalQuery : ""
        self.shownQuery = redaction.redacting(query: self.query[...])
        (self.varyDigest, self.headers) = Self.digest(
            of: Self.keyHeaders(of: headers, varyHeaders: route.varyHeaders, ignoreHeaders: route.ignoreHeaders))
    }

    /// The key of a request with target `target` (as sent: it is normalised here).
    public init?(
        route: StreamRouteConfiguration, target: String, headers: HTTPHeaders, redaction: QueryRedaction = .standard
    ) {
        self.init(route: route, target: RequestTarget(normalizing: target), headers: headers, redaction: redaction)
    }

    /// What the key names without the headers: route, parameters and query. Two requests of one
    /// resource whose keys differ were kept apart by their headers alone.
    public struct Resource: Sendable, Hashable {
        public var route: String
        public var parameters: [Parameter]
        public var query: String
    }

    /// The key's ``Resource``, to index keys by it: a registry that finds an open generation of
    /// the same resource under another key can count the collapse that identity prevented.
    public var resource: Resource {
        Resource(route: self.route, parameters: self.parameters, query: self.query)
    }

    /// The lowercased names of the headers in the key, sorted: what `/streams` shows.
    public var headerNames: [String] { self.headers.map(\.name) }

    /// The names of the headers whose presence or values differ between this key and `other`,
    /// sorted. Meaningful for two keys of equal route, parameters and query: then a non-empty
    /// answer says which headers alone kept the requests from sharing a stream.
    public func headersDiffering(from other: StreamKey) -> [String] {
        var differing: [String] = []
        var mine = self.headers[...]
        var theirs = other.headers[...]
        while let left = mine.first, let right = theirs.first {
            if left.name == right.name {
                if left.valuesDigest != right.valuesDigest { differing.append(left.name) }
                mine = mine.dropFirst()
                theirs = theirs.dropFirst()
            } else if left.name < right.name {
                differing.append(left.name)
                mine = mine.dropFirst()
            } else {
                differing.append(right.name)
                theirs = theirs.dropFirst()
            }
        }
        differing += mine.map(\.name) + theirs.map(\.name)
        return differing
    }

    // MARK: Equality

    /// Route, parameters, query and the overall digest: cheap, and equal digests mean equal
    /// ``headers`` anyway.
    public static func == (left: StreamKey, right: StreamKey) -> Bool {
        left.varyDigest == right.varyDigest && left.route == right.route && left.parameters == right.parameters
            && left.query == right.query
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.route)
        hasher.combine(self.parameters)
        hasher.combine(self.query)
        hasher.combine(self.varyDigest)
    }

    // MARK: Digest

    /// The headers of the key, lowercased and sorted by name (stably, so the values of one
    /// name keep the order they were sent in): with an explicit `varyHeaders` each listed name
    /// (present or not, since an absent credential differs from any value), otherwise every
    /// header sent except the default lists and `ignoreHeaders`.
    static func keyHeaders(
        of headers: HTTPHeaders, varyHeaders: [String]?, ignoreHeaders: [String]
    ) -> [(name: String, values: [String])] {
        if let varyHeaders {
            return Set(varyHeaders.map { $0.lowercased() }).sorted().map { ($0, headers[$0]) }
        }
        var sent: [(name: String, index: Int, value: String)] = []
        for (index, header) in headers.enumerated() {
            let name = header.name.lowercased()
            if StreamIdentityHeaders.isExcludedByDefault(name)
                || (!ignoreHeaders.isEmpty && HeaderNamePatterns.matches(name, anyOf: ignoreHeaders))
            {
                continue
            }
            sent.append((name, index, header.value))
        }
        sent.sort { $0.name < $1.name || ($0.name == $1.name && $0.index < $1.index) }
        var grouped: [(name: String, values: [String])] = []
        for header in sent {
            if grouped.last?.name == header.name {
                grouped[grouped.count - 1].values.append(header.value)
            } else {
                grouped.append((header.name, [header.value]))
            }
        }
        return grouped
    }

    /// SHA-256 over each key header's name and raw values (as sent: an empty value is not an
    /// absent one, and `a,b` is not `a, b`), every piece length-prefixed so that no two
    /// different sets of values produce the same input; and each header's own part of that
    /// input digested alone, for ``headersDiffering(from:)``.
    static func digest(of headers: [(name: String, values: [String])]) -> (String, [Header]) {
        var hasher = SHA256()
        var keyHeaders: [Header] = []
        keyHeaders.reserveCapacity(headers.count)
        // Each piece is assembled in one reused buffer: every stream request makes a key.
        var piece: [UInt8] = []
        for (name, values) in headers {
            var own = SHA256()
            piece.removeAll(keepingCapacity: true)
            Self.appendLengthPrefixed(name, to: &piece)
            Self.appendDecimal(values.count, to: &piece)
            piece.append(UInt8(ascii: ";"))
            hasher.update(data: piece)
            own.update(data: piece)
            for value in values {
                piece.removeAll(keepingCapacity: true)
                Self.appendLengthPrefixed(value, to: &piece)
                hasher.update(data: piece)
                own.update(data: piece)
            }
            keyHeaders.append(Header(name: name, valuesDigest: ValuesDigest(own.finalize())))
        }
        return (Self.hex(hasher.finalize()), keyHeaders)
    }

    /// Appends `text` as `<UTF-8 length>:<text>`.
    private static func appendLengthPrefixed(_ text: String, to piece: inout [UInt8]) {
        Self.appendDecimal(text.utf8.count, to: &piece)
        piece.append(UInt8(ascii: ":"))
        piece.append(contentsOf: text.utf8)
    }

    /// Appends `value` (not negative) in decimal digits, as `String(value)` spells it, without
    /// making that string.
    static func appendDecimal(_ value: Int, to piece: inout [UInt8]) {
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            piece.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// Lowercase hexadecimal, two digits a byte, written straight into the string's storage.
    static func hex(_ digest: SHA256Digest) -> String {
        digest.withUnsafeBytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count * 2) { text in
                for (offset, byte) in bytes.enumerated() {
                    text[offset * 2] = Self.hexDigit(byte >> 4)
                    text[offset * 2 + 1] = Self.hexDigit(byte & 0x0F)
                }
                return bytes.count * 2
            }
        }
    }

    /// The lowercase hexadecimal digit of `value` (0–15).
    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    public var description: String {
        let parameters = self.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
        return "\(self.route)[\(parameters)]?\(self.shownQuery)#\(self.varyDigest.prefix(12))"
    }
}
