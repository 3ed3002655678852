/// Why a text is not a ``RoutePattern``, in words a user can act on (`parameter :id appears
/// twice`).
///
/// Routing knows nothing of where the text came from: the configuration reader adds the key
/// path and the value when it reports one (`streams[0].path: parameter :id appears twice, got
/// the string "/:id/x/:id"`).
public struct RoutePatternError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with the pattern.
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}
