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

    /// Redacts `names`, compared case-insensitively.
    public init(names: some Sequence<String>) {
        self.names = Set(names.map { $0.lowercased() })
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
    private func redactedOrNil(query: Substring) -> String? {
        guard !self.names.isEmpty, !query.isEmpty else { return nil }
        var pieces: [Substring] = []
        var changed = false
        for parameter in query.split(separator: "&", omittingEmptySubsequences: false) {
            guard let equals = parameter.firstIndex(of: "="), parameter.index(after: equals) != parameter.endIndex,
                self.names.contains(Self.comparableName(parameter[..<equals]))
            else {
                pieces.append(parameter)
                continue
            }
            pieces.append(parameter[...equals] + HeaderRedaction.placeholder[...])
            changed = true
        }
        return changed ? pieces.joined(separator: "&") : nil
    }

    /// The name as a backend reads it: percent-decoded (so `%74oken` is `token`), lowercased.
    private static func comparableName(_ name: Substring) -> String {
        guard name.contains("%") else { return name.lowercased() }
        let bytes = Array(name.utf8)
        var decoded: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = RequestTarget.hexValue(bytes[index + 1]), let low = RequestTarget.hexValue(bytes[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self).lowercased()
    }
}
