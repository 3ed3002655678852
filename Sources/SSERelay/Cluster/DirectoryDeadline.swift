import NIOConcurrencyHelpers

/// Runs a directory statement with a deadline that holds whatever the database does.
///
/// postgres-nio waits for a pooled connection as long as it takes to open one, and a database
/// that stopped answering mid-statement is found out only when TCP gives up; a relay must not
/// wait that long to serve a stream. The statement runs in a task of its own: at the deadline
/// the caller is answered with ``ClusterError/timedOut(seconds:)`` and the statement is
/// cancelled, and whichever of the two finishes first answers, once.
enum DirectoryDeadline {
    static func run<Value: Sendable>(
        seconds: Double, _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let waiter = NIOLockedValueBox<CheckedContinuation<Value, any Error>?>(nil)
        let take: @Sendable () -> CheckedContinuation<Value, any Error>? = {
            waiter.withLockedValue { waiter in
                defer { waiter = nil }
                return waiter
            }
        }
        return try await withCheckedThrowingContinuation { continuation in
            waiter.withLockedValue { $0 = continuation }
            let work = NIOLockedValueBox<Task<Void, Never>?>(nil)
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                guard let continuation = take() else { return }
                work.withLockedValue { $0 }?.cancel()
                continuation.resume(throwing: ClusterError.timedOut(seconds: seconds))
            }
            work.withLockedValue { work in
                work = Task {
                    do {
                        let value = try await operation()
                        take()?.resume(returning: value)
                    } catch {
                        take()?.resume(throwing: error)
                    }
                    timer.cancel()
                }
            }
        }
    }
}
