/// Hides the values of credential-like query parameters (`?token=…`, `?api_key=…`) wherever a
/// request target is shown: access logs, `/streams`, a stream key's description.
///
/// Browsers' `EventSource` cannot send headers, so a token in the query is common for streams;
/// a log line or an admin page must not turn it into a credential anyone with log access can
/// replay. Only values are replaced, by ``HeaderRedaction/placeholder``; names, order, other
/// parameters and the path stay byte for byte, so the line still says which request it was.
public struct QueryRedaction: Sendable, Hashable {
    /// The default of `log.redactQueryParameters`.
    public static let defaultNames = [
        "token", "access_token", "api_key", "apikey", "key", "auth", "password", "secret", "signature", "sig", "jwt",
        "code", "session",
    ]

    /// The names whose values are hidden, lowercased.
    public let names: Set<String>
    /// ``names``' UTF-8 bytes, sorted, when every name is ASCII: then a parameter name of ASCII
    /// bytes without escapes, the usual one, is compared in place. `nil` otherwise, and every
    /// name is compared as a lowercased string.
    private let asciiNames: [[UInt8]]?

    /// Redacts `names`, compared case-insensitively.
    public init(names: some Sequence<String>) {
        self.names = Set(names.map { $0.lowercased() })
        let bytes = self.names.sorted().map { Array($0.utf8) }
        self.asciiNames = bytes.allSatisfy { $0.allSatisfy { $0 < 0x80 } } ? bytes : nil
    }

    /// The default list.
    public static let standard = QueryRedaction(names: defaultNames)

    /// `target` with the values of the redacted parameters of its query replaced; `target`
    /// itself when there is nothing to hide.
    public func redacting(target: String) -> String {
        guard let queryStart = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
        let query = target[target.utf8.index(after: queryStart)...]
        guard let redacted = self.redactedOrNil(query: query) else { return target }
        return "\(target[...queryStart])\(redacted)"
    }

    /// `query` (without `?`) with the values of the redacted parameters replaced.
    public func redacting(query: Substring) -> String {
        self.redactedOrNil(query: query) ?? String(query)
    }

    /// The redacted query, or `nil` when no parameter needs it (the common case: no copy).
    ///
    /// Every request target a log line or a stream key shows passes here, so it works on the
    /// query's bytes in place (no `Character` iteration, no lowercased copy of a name that
    /// cannot match), and joins a new string only when a parameter is hidden.
    private func redactedOrNil(query: Substring) -> String? {
        guard !self.names.isEmpty, !query.isEmpty else { return nil }
        return HeaderBytes.withUTF8(of: query) { bytes in
            guard self.hidesAnyValue(in: bytes) else { return nil }
            let parameters = bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false)
            return parameters.map { parameter in
                guard self.hidesValue(of: parameter), let equals = parameter.firstIndex(of: UInt8(ascii: "=")) else {
                    return String(decoding: parameter, as: UTF8.self)
                }
                return String(decoding: parameter[...equals], as: UTF8.self) + HeaderRedaction.placeholder
            }.joined(separator: "&")
        }
    }

    /// Whether a parameter of `query` has a value to hide, found without splitting the query.
    private func hidesAnyValue(in query: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = 0
        // Every step moves past one `&`, so the loop ends.
        while true {
            let end = query[start...].firstIndex(of: UInt8(ascii: "&")) ?? query.endIndex
            if self.hidesValue(of: query[start..<end]) { return true }
            guard end != query.endIndex else { return false }
            start = end + 1
        }
    }

    /// Whether `parameter` (`name=value`) has a value and a name in ``names``.
    private func hidesValue(of parameter: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        guard let equals = parameter.firstIndex(of: UInt8(ascii: "=")), equals + 1 != parameter.endIndex else {
            return false
        }
        let name = parameter[..<equals]
        if let asciiNames, name.allSatisfy({ $0 < 0x80 && $0 != UInt8(ascii: "%") }) {
            return asciiNames.contains {
                name.count == $0.count && zip(name, $0).allSatisfy { HeaderBytes.lowercased($0) == $1 }
            }
        }
        return self.names.contains(Self.comparableName(name))
    }

    /// The name as a backend reads it: percent-decoded (so `%74oken` is `token`), lowercased.
    private static func comparableName(_ name: Slice<UnsafeBufferPointer<UInt8>>) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(name.count)
        var index = name.startIndex
        while index < name.endIndex {
            if name[index] == UInt8(ascii: "%"), index + 2 < name.endIndex,
                let high = RequestTarget.hexValue(name[index + 1]), let low = RequestTarget.hexValue(name[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(name[index])
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self).lowercased()
    }
}
