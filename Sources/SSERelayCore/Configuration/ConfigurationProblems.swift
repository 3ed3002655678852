/// Collects the problems found while one configuration document is read.
///
/// A reference type so that the readers of nested objects, which are values, all add to the
/// same list. It lives only for the duration of one ``ConfigurationLoader/load(json:source:)``
/// call on one thread.
final class ConfigurationProblems {
    private(set) var problems: [ConfigurationError.Problem] = []

    func report(_ path: ConfigurationKeyPath, _ message: String) {
        self.problems.append(.init(location: path.description, message: message))
    }
}
