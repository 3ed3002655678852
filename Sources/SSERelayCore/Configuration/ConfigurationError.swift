/// Everything wrong with a configuration, found before anything listens.
///
/// The message names the source (a file path or a command-line flag), then one line per
/// problem with its key path, so a user can fix the whole file in one pass:
///
/// ```
/// /etc/sse-relay/config.json: streams[0].retryMs: expected a whole number from 0 to 86400000, got the string "2s"
/// ```
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One problem at one place in the document.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// Where the problem is: a key path such as `streams[0].retryMs`, or a flag such as
        /// `--listen`.
        public var location: String
        /// What is wrong, in words a user can act on.
        public var message: String

        public init(location: String, message: String) {
            self.location = location
            self.message = message
        }

        public var description: String { "\(self.location): \(self.message)" }
    }

    /// Where the configuration came from: a file path, `command line` or `embedded defaults`.
    public var source: String
    /// Every problem found, in document order where the order is known.
    public var problems: [Problem]

    public init(source: String, problems: [Problem]) {
        self.source = source
        self.problems = problems
    }

    public var description: String {
        self.problems.map { "\(self.source): \($0)" }.joined(separator: "\n")
    }
}
