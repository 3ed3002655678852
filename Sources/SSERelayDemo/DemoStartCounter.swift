import NIOConcurrencyHelpers

/// Completions started per conversation, across the demo backend's connections.
final class DemoStartCounter: Sendable {
    /// Pthread-based (not `Synchronization.Mutex`, which ThreadSanitizer cannot see on Linux).
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    /// Counts a new completion of `conversation`; returns its number, 1 for the first.
    func start(_ conversation: String) -> Int {
        self.counts.withLockedValue { counts in
            counts[conversation, default: 0] += 1
            return counts[conversation, default: 0]
        }
    }

    /// The completions `conversation` has started so far.
    func count(_ conversation: String) -> Int {
        self.counts.withLockedValue { $0[conversation] ?? 0 }
    }
}
