/// The dedicated stream connections one event loop may have open at once, shared by the loop's
/// pools (one per server): a conversation placed on any server draws from it, so a server that
/// takes the streams of one that left is not capped at its own share.
final class UpstreamStreamBudget {
    /// ``ConnectionCapacity/streamUpstreamConnections`` shared among the loops; a reload may
    /// change it (the connections open beyond a lowered limit finish, and no new one opens
    /// until the count is under it).
    var limit: Int
    /// Open or connecting.
    private(set) var count = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes one connection from the budget; `false` when it is spent.
    func take() -> Bool {
        guard self.count < self.limit else { return false }
        self.count += 1
        return true
    }

    /// Gives one back.
    func giveBack() {
        self.count -= 1
    }
}
