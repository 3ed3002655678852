import NIOCore
import NIOHTTP1

/// One keep-alive HTTP/1.1 connection to the upstream, as the last handler of its pipeline.
///
/// It carries one request at a time for a ``UpstreamResponseReceiver`` (the client connection
/// that owns the exchange), pushes back on the upstream with a ``ReadGate`` when the receiver's
/// client is slow, and tells its ``UpstreamConnectionPool`` when it closes. All of it happens
/// on the connection's event loop, which is also the receiver's.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private enum ResponseState {
        case idle
        case awaitingHead
        case receivingBody
        case complete
    }

    /// The HTTP codec handlers in front of this one, removed when the connection becomes a tunnel.
    let codecHandlers: [any RemovableChannelHandler]
    /// The decoder of the upstream's responses, told of every request head this connection
    /// sends (see ``UpstreamResponseDecoder``).
    private let responseDecoder: HTTPResponseDecoder
    /// The pool to tell when the connection closes; `nil` once detached for a tunnel, or closed.
    ///
    /// Strong, so a pool a reload retired lives until its last connection closes, and dropped
    /// when the channel closes, which ends the cycle with the pool's idle list. Not `weak`: a
    /// weak reference gives the pool a side table, and every retain of it (one per request)
    /// would then take the runtime's slow path.
    var pool: UpstreamConnectionPool?
    /// The server the connection goes to, while it belongs to a pool.
    var server: UpstreamServer? { self.pool?.server }
    /// Whether the pool opened this connection for one stream (``UpstreamConnectionPool/acquireForStream(_:)``):
    /// it counts against the streams' budget, not the keep-alive pool's, and is closed rather
    /// than kept when released.
    var isDedicatedToStream = false
    /// The pool's ``UpstreamConnectionPool/addressEpoch`` when this connection's address was
    /// last known to be one the upstream's name stands for.
    var addressEpoch = 0
    /// Closes the connection when it sits idle in the pool for too long; created once the
    /// handler has its event loop.
    private(set) var idleTimer: DeadlineTimer?

    private var context: ChannelHandlerContext?
    private var receiver: (any UpstreamResponseReceiver)?
    private var readGate = ReadGate()
    private var responseState = ResponseState.idle
    private var requestComplete = true
    private var responseKeepAlive = false
    /// How many requests this connection has started; above 1 it was reused from the pool.
    private(set) var requestCount = 0

    init(codecHandlers: [any RemovableChannelHandler], responseDecoder: HTTPResponseDecoder) {
        self.codecHandlers = codecHandlers
        self.responseDecoder = responseDecoder
    }

    var channel: (any Channel)? { self.context?.channel }

    /// Whether the socket accepts more bytes without queueing them.
    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    /// Whether another request may be sent on this connection: it is open and either never
    /// used or done with a complete keep-alive exchange.
    var isReusable: Bool {
        guard self.context?.channel.isActive ?? false else { return false }
        switch self.responseState {
        case .idle:
            return true
        case .complete:
            return self.requestComplete && self.responseKeepAlive
        case .awaitingHead, .receivingBody:
            return false
        }
    }

    /// Whether the connection was taken from the pool rather than opened for this request;
    /// a reused connection may have been closed by the upstream just before it was used.
    var wasReused: Bool { self.requestCount > 1 }

    // MARK: Driving an exchange

    /// Starts a request for `receiver`: writes `head` (not flushed).
    func begin(_ head: HTTPRequestHead, for receiver: any UpstreamResponseReceiver) {
        self.requestCount += 1
        self.receiver = receiver
        self.responseState = .awaitingHead
        self.requestComplete = false
        self.responseKeepAlive = false
        self.responseDecoder.write(data: .head(head))
        self.context?.write(self.wrapOutboundOut(.head(head)), promise: nil)
    }

    /// Writes a body part or the end of the request (not flushed).
    func write(_ part: HTTPClientRequestPart) {
        if case .end = part {
            self.requestComplete = true
        }
        self.context?.write(self.wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    /// Forgets the receiver and lifts its backpressure: the exchange is over for it, whatever
    /// the connection does next.
    func detachReceiver() {
        self.receiver = nil
        self.resumeReading()
    }

    /// Stops reading from the upstream until ``resumeReading()``.
    func pauseReading() {
        self.readGate.pause(.peerUnwritable)
    }

    func resumeReading() {
        if self.readGate.resume(.peerUnwritable) {
            self.context?.read()
        }
    }

    func close() {
        self.receiver = nil
        self.context?.close(promise: nil)
    }

    /// Gives the connection back to its pool (``UpstreamConnectionPool/release(_:)``), or closes
    /// it when it belongs to none.
    func release() {
        guard let pool = self.pool else { return self.close() }
        pool.release(self)
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.idleTimer = DeadlineTimer(eventLoop: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTimer?.invalidate()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            guard self.responseState == .awaitingHead else {
                // A response nobody asked for: the connection is out of step, drop it.
                context.close(promise: nil)
                return
            }
            self.responseState = .receivingBody
            self.responseKeepAlive = head.isKeepAlive
            self.receiver?.upstream(self, didReceiveHead: head)
        case .body(let body):
            self.receiver?.upstream(self, didReceiveBody: body)
        case .end:
            self.responseState = .complete
            let receiver = self.receiver
            receiver?.upstreamDidReceiveEnd(self)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.receiver?.upstreamDidCompleteRead(self)
    }

    func read(context: ChannelHandlerContext) {
        if self.readGate.shouldRead() {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.receiver?.upstream(self, didChangeWritability: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(error is HTTPParserError ? .invalidResponse(error) : self.closedError)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.idleTimer?.invalidate()
        self.fail(self.closedError)
        self.pool?.connectionDidClose(self)
        self.pool = nil
        context.fireChannelInactive()
    }

    private var closedError: UpstreamError {
        self.responseState == .awaitingHead ? .closedBeforeResponse : .closedMidResponse
    }

    private func fail(_ error: UpstreamError) {
        guard let receiver = self.receiver, self.responseState != .complete else { return }
        self.receiver = nil
        receiver.upstream(self, didFail: error)
    }
}
