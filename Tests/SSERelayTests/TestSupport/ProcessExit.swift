import Foundation
import NIOConcurrencyHelpers

/// The exit of a child process as something to await, fed by `Process.terminationHandler`.
///
/// Tests never call `Process.waitUntilExit()`: it spins a run loop on the calling thread, and
/// many of those at once (parallel tests) starved the Dispatch pool that Foundation's own child
/// monitoring runs on, so no exit was ever observed and the test run hung.
final class ProcessExit: Sendable {
    private struct State {
        var status: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    /// Installs the handler on `process`; call before `run()`.
    init(of process: Process) {
        process.terminationHandler = { [self] process in
            let status = process.terminationStatus
            let waiters = self.state.withLockedValue { state in
                state.status = status
                defer { state.waiters.removeAll() }
                return state.waiters
            }
            for waiter in waiters {
                waiter.resume(returning: status)
            }
        }
    }

    /// The exit status, once the process has exited.
    var status: Int32? { self.state.withLockedValue { $0.status } }

    /// Waits for the exit; returns the status.
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status = self.state.withLockedValue { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }
}
