import Synchronization

/// Counts the client connections open across all event loops, for `limits.maxConnections`.
final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection; returns whether it is within the limit. Every call, admitted or
    /// not, is matched by one ``release()`` when the connection closes.
    func admit() -> Bool {
        self.count.wrappingAdd(1, ordering: .relaxed).newValue <= self.limit
    }

    func release() {
        self.count.wrappingSubtract(1, ordering: .relaxed)
    }

    var current: Int { self.count.load(ordering: .relaxed) }
}
