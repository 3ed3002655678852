import NIOConcurrencyHelpers
import NIOCore

/// The socket addresses the upstream's host name stands for now, shared by every event loop's
/// pool and the readiness probe, and kept current by an ``UpstreamAddressRefresher``.
///
/// A name may stand for several addresses (several containers behind one service name, a
/// round-robin record): every connection takes the next one in turn, so each is used. An IP
/// literal is one fixed address and is never resolved. A connection that could not be opened
/// asks the refresher for an early resolution (``connectFailed()``): a backend that moved is
/// found at the next connect, not at the next interval.
///
/// Reads take a lock, but only when a connection is opened; keep-alive requests never ask.
final class UpstreamAddresses: Sendable {
    /// The host name as configured, for logs and error messages.
    let host: String
    let port: Int
    /// Whether the host is an IP literal, which is never resolved.
    let isFixed: Bool
    private let state: NIOLockedValueBox<State>

    private struct State {
        var addresses: [SocketAddress]
        var next = 0
        /// Why the name does not resolve, while it does not and no address is known.
        var resolutionError: String?
        /// A connect failed since the refresher last looked; one is as good as many.
        var connectFailed = false
        /// The refresher, while it waits in ``waitForConnectFailure()``.
        var waiter: CheckedContinuation<Void, Never>?
    }

    /// Addresses for `host`: itself when it is an IP literal, otherwise `resolved` (empty when
    /// the first resolution failed, with `error` saying why).
    init(host: String, port: Int, resolved: [SocketAddress] = [], error: String? = nil) {
        self.host = host
        self.port = port
        let literal = try? SocketAddress(ipAddress: host, port: port)
        self.isFixed = literal != nil
        self.state = NIOLockedValueBox(
            State(addresses: literal.map { [$0] } ?? resolved, resolutionError: literal == nil ? error : nil))
    }

    /// The address the next connection goes to, in turn; `nil` while the name resolves to none.
    func next() -> SocketAddress? {
        self.state.withLockedValue { state in
            guard !state.addresses.isEmpty else { return nil }
            let address = state.addresses[state.next % state.addresses.count]
            state.next = (state.next + 1) % state.addresses.count
            return address
        }
    }

    /// Every address known now, in the resolver's order.
    var current: [SocketAddress] {
        self.state.withLockedValue { $0.addresses }
    }

    /// Why there is no address, when there is none.
    var resolutionError: String? {
        self.state.withLockedValue { $0.addresses.isEmpty ? $0.resolutionError : nil }
    }

    /// Replaces the addresses with a resolution's; `true` when they changed (as a set: the
    /// resolver's order may rotate from one answer to the next).
    @discardableResult
    func update(_ addresses: [SocketAddress]) -> Bool {
        self.state.withLockedValue { state in
            state.resolutionError = nil
            guard Set(addresses) != Set(state.addresses) else { return false }
            state.addresses = addresses
            state.next = 0
            return true
        }
    }

    /// Records a failed resolution. The known addresses stay: a name server that is down for a
    /// moment must not take a reachable backend away.
    func resolutionFailed(_ error: String) {
        self.state.withLockedValue { $0.resolutionError = error }
    }

    /// A connection to one of the addresses could not be opened: asks for an early resolution.
    func connectFailed() {
        guard !self.isFixed else { return }
        let waiter = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.connectFailed = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns once a connect failed (at once if one did since the last call), or when the task
    /// is cancelled. One waiter at a time: the refresher.
    func waitForConnectFailure() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = self.state.withLockedValue { state in
                    // Cancelled before the waiter is stored: the handler below found none.
                    guard !state.connectFailed, !Task.isCancelled else {
                        state.connectFailed = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// `host:port`, as the upstream is named in logs.
    var name: String { "\(self.host):\(self.port)" }
}
