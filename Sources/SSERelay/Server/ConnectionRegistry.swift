import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import Synchronization

/// The client connections of the proxy listener across all event loops: counted against
/// `limits.maxConnections`, asked to finish at shutdown, and cut when the grace period is over.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var isQuiescing = false
        var drainWaiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var nextWaiterID = 0
    }

    private let limitValue: Synchronization.Atomic<Int>
    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        self.limitValue = Synchronization.Atomic(limit)
    }

    /// `limits.maxConnections`; a reload changes it for connections accepted afterwards.
    var limit: Int {
        get { self.limitValue.load(ordering: .relaxed) }
        set { self.limitValue.store(newValue, ordering: .relaxed) }
    }

    var count: Int { self.state.withLockedValue { $0.channels.count } }

    /// The open connections.
    var all: [any Channel] { self.state.withLockedValue { Array($0.channels.values) } }

    /// Registers a newly accepted connection until it closes; returns whether it is within the
    /// limit. A connection over the limit is registered too (it is answered `503` and closes).
    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let (count, isQuiescing) = self.state.withLockedValue { state in
            state.channels[id] = channel
            return (state.channels.count, state.isQuiescing)
        }
        channel.closeFuture.whenComplete { _ in self.remove(id) }
        if isQuiescing {
            // Accepted just as the listener closed: it finishes like the others.
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        return count <= self.limit
    }

    /// Asks every connection to finish: idle ones close now, busy ones after their response.
    func quiesce() {
        let channels = self.state.withLockedValue { state in
            state.isQuiescing = true
            return Array(state.channels.values)
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Closes every connection at once.
    func closeAll() {
        for channel in self.state.withLockedValue({ Array($0.channels.values) }) {
            channel.close(promise: nil)
        }
    }

    /// Waits until no connection is left or `timeout` passes; returns whether none is left.
    /// Whichever comes first resumes the waiter; the other finds it gone.
    func waitUntilEmpty(timeout: TimeAmount, on loop: any EventLoop) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let waiterID = self.state.withLockedValue { state -> Int? in
                guard !state.channels.isEmpty else { return nil }
                state.nextWaiterID += 1
                state.drainWaiters[state.nextWaiterID] = continuation
                return state.nextWaiterID
            }
            guard let waiterID else {
                return continuation.resume(returning: true)
            }
            loop.scheduleTask(in: timeout) {
                self.state.withLockedValue { $0.drainWaiters.removeValue(forKey: waiterID) }?.resume(returning: false)
            }
        }
    }

    private func remove(_ id: ObjectIdentifier) {
        let waiters = self.state.withLockedValue { state -> [CheckedContinuation<Bool, Never>] in
            state.channels[id] = nil
            guard state.channels.isEmpty else { return [] }
            defer { state.drainWaiters.removeAll() }
            return Array(state.drainWaiters.values)
        }
        for waiter in waiters {
            waiter.resume(returning: true)
        }
    }
}
