/// `log`: what the relay writes to stderr.
public struct LogConfiguration: Sendable, Hashable {
    /// The levels of swift-log, by their names in the configuration.
    public enum Level: String, Sendable, Hashable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// How each log line is written.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// One JSON object per line, for journald and log shippers.
        case json
        /// `2026-11-25T17:20:00Z info request method=GET …`, for people.
        case text
    }

    /// `log.level` (string, default `info`): the lowest level written. At `info` every request
    /// gets one access line.
    public var level: Level = .info
    /// `log.format` (string, default `json`): `json` or `text`.
    public var format: Format = .json
    /// `log.headers` (boolean, default false): log each request's and response's headers, with
    /// credentials redacted.
    public var headers = false
    /// `log.redactQueryParameters` (array of names, default `["token", "access_token",
    /// "api_key", "apikey", "key", "auth", "password", "secret", "signature", "sig", "jwt",
    /// "code", "session"]`): query parameters whose values are shown as `[redacted]` in logs,
    /// `/streams` and stream keys, compared case-insensitively. `EventSource` cannot send
    /// headers, so a stream's credential often travels in its query.
    public var redactQueryParameters = QueryRedaction.defaultNames

    public init() {}

    /// ``redactQueryParameters`` ready to apply.
    public var queryRedaction: QueryRedaction { QueryRedaction(names: self.redactQueryParameters) }

    init(reading reader: inout ConfigurationObjectReader) {
        self.init()
        self.level = reader.choice("level", default: self.level)
        self.format = reader.choice("format", default: self.format)
        self.headers = reader.bool("headers", default: self.headers)
        self.redactQueryParameters = reader.array("redactQueryParameters", default: self.redactQueryParameters) {
            value, path, problems in
            guard case .string(let name) = value, !name.isEmpty else {
                problems.report(path, "expected a query parameter name, got \(value.summary)")
                return nil
            }
            return name.lowercased()
        }
    }
}
