/// Something in `sse-relay demo`'s scenario did not go as the script expects, said in a way
/// that points at what to look at.
public struct DemoScenarioError: Error, CustomStringConvertible {
    /// What went wrong, and where to look.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
