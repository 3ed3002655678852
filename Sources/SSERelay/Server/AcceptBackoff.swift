import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The first handler of a listening channel: when an accept fails for want of descriptors or
/// memory, stops accepting for ``backoff``, counts it, and says so in the log at most once a
/// second.
///
/// Why it is needed: a failed accept leaves the client in the backlog, so the listening socket
/// stays readable, and NIO's server channel keeps its read pending (only a successful accept
/// clears it) and its interest in readability registered. The loop then calls `accept4` again
/// at once: tens of thousands of failing calls a second, a core busy, nothing logged, and the
/// admin listener starved. Holding back `read()`, as NIO's `AcceptBackoffHandler` does, cannot
/// help here, since the channel never asks for another read while one is pending (`bind` and
/// `withBoundSocket` do not even add that handler). Turning `autoRead` off does: it drops the
/// channel's interest in readability, so the loop sleeps; turning it back on after the pause
/// accepts again, and that succeeds as soon as a descriptor is free, without anyone's help.
///
/// With a ``DescriptorReserve`` (the admin listener), a failure first frees one reserved
/// descriptor and lets the channel accept again at once, so `/healthz` keeps answering when the
/// proxy's clients hold every other descriptor.
final class AcceptBackoff: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    /// The `listener` label of the metric and the log: `proxy` or `admin`.
    let listener: String
    /// How long accepting pauses after a failure: long enough that a full backlog costs a
    /// few calls a second, short enough that clients barely notice once descriptors free up.
    let backoff: TimeAmount
    private let reserve: DescriptorReserve?
    private let metrics: RelayMetrics
    private let logger: Logger
    private var throttle: AcceptErrorThrottle
    /// The end of the pause in progress, if any.
    private var resumption: Scheduled<Void>?

    init(
        listener: String,
        backoff: TimeAmount = .milliseconds(250),
        logInterval: TimeAmount = .seconds(1),
        reserve: DescriptorReserve? = nil,
        metrics: RelayMetrics,
        logger: Logger
    ) {
        self.listener = listener
        self.backoff = backoff
        self.reserve = reserve
        self.metrics = metrics
        self.logger = logger
        self.throttle = AcceptErrorThrottle(interval: logInterval)
    }

    /// The `reason` label of an accept error that a pause can cure, or `nil` for one it cannot
    /// (such as a client that reset before it was accepted).
    static func reason(forErrno code: CInt) -> String? {
        switch code {
        case EMFILE: "emfile"
        case ENFILE: "enfile"
        case ENOBUFS: "enobufs"
        case ENOMEM: "enomem"
        default: nil
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError, let reason = Self.reason(forErrno: error.errnoCode) else {
            return context.fireErrorCaught(error)
        }
        self.metrics.recordAcceptError(listener: self.listener, reason: reason)
        // A freed reserved descriptor takes the next accept at once; otherwise pause.
        let released = self.reserve?.release() ?? false
        if let failures = self.throttle.failed(at: context.eventLoop.now) {
            self.logger.warning(
                "accepting connections failed: \(error.errnoCode == ENFILE ? "the system is" : "the relay is") out of descriptors or memory; pausing accepts",
                metadata: [
                    "listener": "\(self.listener)",
                    "reason": "\(reason)",
                    "failures_since_last_line": "\(failures)",
                    "backoff_ms": "\(self.backoff.nanoseconds / 1_000_000)",
                    "used_reserve": "\(released)",
                ])
        }
        guard !released, self.resumption == nil else { return }
        Self.setAccepting(false, on: context.channel)
        self.resumption = context.eventLoop.assumeIsolated().scheduleTask(in: self.backoff) {
            self.resumption = nil
            Self.setAccepting(true, on: context.channel)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let failures = self.throttle.succeeded(at: context.eventLoop.now) {
            self.logger.notice(
                "accepting connections again",
                metadata: ["listener": "\(self.listener)", "failures_since_last_line": "\(failures)"])
        }
        if let reserve = self.reserve, reserve.count < reserve.capacity {
            // Refilled now if descriptors are free again, else with the slot this connection
            // gives back when it closes.
            reserve.refill()
            Self.unwrapInboundIn(data).closeFuture.whenComplete { _ in reserve.refill() }
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.resumption?.cancel()
        self.resumption = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let resumption = self.resumption {
            // Without this, the listener would stay paused for good.
            resumption.cancel()
            self.resumption = nil
            Self.setAccepting(true, on: context.channel)
        }
    }

    /// Turns `autoRead` on or off; on the channel's loop this takes effect at once.
    private static func setAccepting(_ accepting: Bool, on channel: any Channel) {
        channel.setOption(.autoRead, value: accepting).whenFailure { _ in
            // Only a closed channel refuses, and a closed listener accepts nothing anyway.
        }
    }
}
