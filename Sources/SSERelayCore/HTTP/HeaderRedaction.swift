public import NIOHTTP1

/// Hides credentials wherever headers are shown: logs with `log.headers`, `/streams`.
public enum HeaderRedaction {
    /// Headers whose values are never shown, lowercased.
    public static let redactedNames: Set<String> = ["authorization", "proxy-authorization", "cookie", "set-cookie"]

    /// The text shown instead of a redacted value.
    public static let placeholder = "[redacted]"

    /// `headers` in order, with the values of credential headers replaced by ``placeholder``.
    public static func redacted(_ headers: HTTPHeaders) -> [(name: String, value: String)] {
        headers.map { name, value in
            (name, self.redactedNames.contains(name.lowercased()) ? self.placeholder : value)
        }
    }
}
