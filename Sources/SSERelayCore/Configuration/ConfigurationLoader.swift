public import Foundation

/// Turns a JSON document into a ``RelayConfiguration``, or into a ``ConfigurationError`` that
/// lists every problem of the document with its key path.
public enum ConfigurationLoader {
    /// Reads and validates the file at `path`.
    public static func load(fileAt path: String) throws(ConfigurationError) -> RelayConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError(
                source: path,
                problems: [.init(location: "(file)", message: "cannot read the file: \(error.localizedDescription)")]
            )
        }
        return try self.load(json: data, source: path)
    }

    /// Reads and validates a JSON document; `source` names it in error messages.
    public static func load(json: Data, source: String) throws(ConfigurationError) -> RelayConfiguration {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: json)
        } catch {
            throw ConfigurationError(
                source: source,
                problems: [.init(location: "(file)", message: "not valid JSON: \(Self.describe(error))")]
            )
        }
        let problems = ConfigurationProblems()
        var configuration = RelayConfiguration()
        if var reader = ConfigurationObjectReader(document, at: .root, problems: problems) {
            configuration = RelayConfiguration(reading: &reader, problems: problems)
            reader.finish()
        }
        let all = problems.problems + (problems.problems.isEmpty ? configuration.crossKeyProblems() : [])
        guard all.isEmpty else {
            throw ConfigurationError(source: source, problems: all)
        }
        return configuration
    }

    /// The most specific text Foundation gives for a JSON syntax error (it names the line and
    /// column in the underlying error).
    private static func describe(_ error: any Error) -> String {
        guard case DecodingError.dataCorrupted(let context) = error else { return "\(error)" }
        if let underlying = context.underlyingError {
            return "\(underlying)"
        }
        return context.debugDescription
    }
}
