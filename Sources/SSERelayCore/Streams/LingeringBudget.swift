/// How many generations may linger (upstream open, no client) at once: in all, and per client
/// address of the request that started them.
///
/// A lingering generation is a completion the backend keeps paying for while nobody listens.
/// It is worth it for a client that drops and comes back, not for thousands that never
/// meant to stay, so the number is bounded; a generation over the budget is cancelled as soon
/// as its last client leaves (see ``GenerationStateMachine/lingerRefused()``).
public struct LingeringBudget: Sendable {
    /// `limits.maxLingeringGenerations`.
    public var maximum: Int
    /// `limits.maxLingeringPerClient`.
    public var maximumPerClient: Int
    /// Generations lingering now.
    public private(set) var count = 0
    private var perClient: [String: Int] = [:]

    public init(maximum: Int, maximumPerClient: Int) {
        self.maximum = maximum
        self.maximumPerClient = maximumPerClient
    }

    /// Counts one more lingering generation of `client` (`nil`: no address known, counted only
    /// in all), or returns `false` when that would exceed either bound.
    public mutating func admit(client: String?) -> Bool {
        guard self.count < self.maximum else { return false }
        if let client {
            let current = self.perClient[client, default: 0]
            guard current < self.maximumPerClient else { return false }
            self.perClient[client] = current + 1
        }
        self.count += 1
        return true
    }

    /// A generation admitted for `client` stopped lingering.
    public mutating func release(client: String?) {
        self.count = max(0, self.count - 1)
        guard let client, let current = self.perClient[client] else { return }
        self.perClient[client] = current > 1 ? current - 1 : nil
    }

    /// Lingering generations of `client`.
    public func count(of client: String) -> Int {
        self.perClient[client, default: 0]
    }
}
