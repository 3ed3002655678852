import NIOCore

/// A timeout re-armed far more often than it expires, such as the wait for a keep-alive
/// client's next request or an idle pooled connection's lifetime, both re-armed on every
/// request.
///
/// NIO's `scheduleTask` allocates a task, a promise and a closure and inserts into the loop's
/// timer heap, and cancelling searches that heap. This timer keeps at most one task scheduled
/// and moves a deadline instead: re-arming for a later time (the usual case) stores the new
/// deadline, and a task that fires before it schedules itself again for the deadline then in
/// force. Use it on its event loop only.
final class DeadlineTimer {
    private let eventLoop: any EventLoop
    /// When the timer expires; `nil` while disarmed.
    private var deadline: NIODeadline?
    private var onExpiry: (() -> Void)?
    /// The one scheduled task, and when it fires.
    private var pending: (task: Scheduled<Void>, firesAt: NIODeadline)?
    /// Set by ``invalidate()``: the owner is gone, and arming does nothing any more.
    private var isInvalidated = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Arms the timer to call `onExpiry` after `delay`, replacing any earlier arming.
    func arm(in delay: TimeAmount, _ onExpiry: @escaping () -> Void) {
        guard !self.isInvalidated else { return }
        let deadline = self.eventLoop.now + delay
        self.deadline = deadline
        self.onExpiry = onExpiry
        if let pending = self.pending {
            guard deadline < pending.firesAt else { return }
            pending.task.cancel()
        }
        self.schedule(at: deadline)
    }

    /// Disarms the timer. The scheduled task stays and does nothing when it fires, so that
    /// arming again soon, as the next request does, costs no new task.
    func cancel() {
        self.deadline = nil
        self.onExpiry = nil
    }

    /// Disarms the timer for good and drops its scheduled task: for when its owner goes away
    /// (a late arming would otherwise keep the owner alive until the task fires).
    func invalidate() {
        self.isInvalidated = true
        self.cancel()
        self.pending?.task.cancel()
        self.pending = nil
    }

    private func schedule(at deadline: NIODeadline) {
        let task = self.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.fire() }
        self.pending = (task, deadline)
    }

    private func fire() {
        self.pending = nil
        guard let deadline = self.deadline else { return }
        guard self.eventLoop.now >= deadline else {
            return self.schedule(at: deadline)
        }
        let onExpiry = self.onExpiry
        self.cancel()
        onExpiry?()
    }
}
