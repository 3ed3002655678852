import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import SSERelayCore

/// The last handler of a client connection: serves each request, one at a time, by proxying
/// it to the upstream or through the stream engine, with backpressure both ways.
///
/// The connection's protocol state (which request is served, keep-alive, pipelining, quiesce,
/// when to read) is a ``ProxyConnectionStateMachine``; this handler feeds it the channel's
/// events and performs what it returns. The request in flight is a ``ProxyExchange``.
///
/// The pipeline in front of it is NIO's HTTP/1 codec without pipelining assistance, so the
/// connection keeps reading while a response streams and a client that goes away is noticed at
/// once.
///
/// Backpressure: while the upstream socket is full, reads from the client pause; while the
/// client socket is full, the upstream connection stops reading. A slow client therefore slows
/// only its own upstream read, and memory stays bounded by the sockets' buffers.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The settings of the exchange in flight (or of the next one): read from ``settingsStore``
    /// when the connection is accepted and at the start of every request, so a reload applies to
    /// the next request and never to one in flight.
    private(set) var settings: ProxySettings
    private let settingsStore: ProxySettingsStore
    /// Chooses the upstream server, and so the pool, of each request on this connection's loop.
    let upstreams: UpstreamBalancer
    let registry: StreamRegistry
    /// This relay's part in a cluster, when `cluster` is configured.
    let cluster: ClusterNode?
    /// Whether this connection came in on the peer listener: its requests were forwarded by
    /// another relay of the cluster, must carry the peer secret, and are never forwarded again.
    let isPeerListener: Bool
    let logger: Logger
    /// The HTTP codec handlers in front of this one, removed when the connection is tunnelled.
    let codecHandlers: [any RemovableChannelHandler]

    private(set) var context: ChannelHandlerContext?
    /// The context of the response encoder in front of this handler: stream events written
    /// there pass below the encoder, already framed (see ``writeStreamEvent(_:)``).
    private(set) var encoderContext: ChannelHandlerContext?
    var machine = ProxyConnectionStateMachine()
    /// The request in flight, while the machine is exchanging.
    var exchange: ProxyExchange?
    /// The wait for the first request's head, then for each next request on the keep-alive
    /// connection; created once the handler has its event loop.
    private var waitTimer: DeadlineTimer?
    /// The wait for the upstream's answer to each request; one per connection, re-armed by
    /// every exchange (see ``ProxyExchange/responseTimer``).
    private(set) var responseTimer: DeadlineTimer?
    /// Set when request parts were written upstream during this read, flushed at its end.
    var upstreamNeedsFlush = false
    private(set) var clientAddress: String?

    init(
        settings: ProxySettingsStore,
        upstreams: UpstreamBalancer,
        registry: StreamRegistry,
        cluster: ClusterNode? = nil,
        isPeerListener: Bool = false,
        logger: Logger,
        codecHandlers: [any RemovableChannelHandler]
    ) {
        self.settingsStore = settings
        self.settings = settings.current
        self.upstreams = upstreams
        self.registry = registry
        self.cluster = cluster
        self.isPeerListener = isPeerListener
        self.logger = logger
        self.codecHandlers = codecHandlers
    }

    // MARK: Connection lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.waitTimer = DeadlineTimer(eventLoop: context.eventLoop)
        self.responseTimer = DeadlineTimer(eventLoop: context.eventLoop)
        self.encoderContext = try? context.pipeline.syncOperations.context(handlerType: FramedResponseEncoder.self)
        self.clientAddress = context.channel.remoteAddress?.ipAddress
        if context.channel.isActive {
            self.armWaitTimer(seconds: self.settings.limits.headerReadTimeoutSeconds)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.waitTimer?.invalidate()
        self.responseTimer?.invalidate()
        self.context = nil
        self.encoderContext = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.clientAddress = context.channel.remoteAddress?.ipAddress
        self.armWaitTimer(seconds: self.settings.limits.headerReadTimeoutSeconds)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.waitTimer?.invalidate()
        self.responseTimer?.invalidate()
        if self.machine.connectionClosed(), let exchange = self.exchange {
            self.endExchange(exchange, outcome: .clientClosed)
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            return context.fireUserInboundEventTriggered(event)
        }
        self.perform(self.machine.quiesce())
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            // I/O errors such as a reset: the connection is gone.
            self.logger.debug("client connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        guard context.channel.isActive else {
            // The client closed the connection in the middle of a request and the decoder
            // reports the cut: nobody is left to answer, and no request completed. What was in
            // flight is recorded as `client_closed` when the connection goes inactive.
            self.logger.debug(
                "client closed the connection mid-request",
                metadata: ["client": "\(self.clientAddress ?? "-")", "error": "\(parserError)"])
            return
        }
        let response: ErrorResponse
        if parserError == .headerOverflow {
            response = ErrorResponse(status: .requestHeaderFieldsTooLarge, message: "request header fields too large")
        } else {
            response = ErrorResponse(status: .badRequest, message: "malformed HTTP request: \(parserError)")
        }
        let action = self.machine.requestMalformed(answering: response)
        guard case .respondAndClose = action else { return self.perform(action) }
        if parserError == .headerOverflow {
            self.registry.metrics.limitReached(.maxHeaderBytes)
        }
        self.logger.notice(
            "rejected request",
            metadata: [
                "client": "\(self.clientAddress ?? "-")", "status": "\(response.status.code)",
                "error": "\(parserError)",
            ]
        )
        self.perform(action)
    }

    // MARK: Reading the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.perform(self.machine.requestPartReceived(self.unwrapInboundIn(data)))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.upstreamNeedsFlush {
            self.upstreamNeedsFlush = false
            self.exchange?.connection?.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if self.machine.readRequested() {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let exchange = self.exchange {
            exchange.connection?.resumeReading()
            exchange.subscriber?.writabilityChanged()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Performing the machine's actions

    /// Carries out what the state machine decided.
    func perform(_ action: ProxyConnectionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .read:
            self.context?.read()
        case .startExchange(let head):
            self.startExchange(head)
        case .forwardBody(let body):
            if let exchange = self.exchange { self.forwardBody(body, of: exchange) }
        case .forwardEnd(let trailers):
            if let exchange = self.exchange { self.forwardEnd(trailers, of: exchange) }
        case .respondAndClose(let response, let version):
            self.releaseExchange()
            self.respondAndClose(response, version: version)
        case .close:
            if let exchange = self.exchange {
                self.endExchange(exchange, outcome: exchange.record.outcome)
            }
            self.context?.close(promise: nil)
        }
    }

    /// `reason` cleared: issues a read the gate held back.
    func resumeReading(_ reason: ReadGate.Reasons) {
        if self.machine.resumeReading(reason) {
            self.context?.read()
        }
    }

    // MARK: Ending exchanges

    /// Writes the end of the response, logs it, and makes the connection ready for the next
    /// request or closes it.
    func finish(_ exchange: ProxyExchange, trailers: HTTPHeaders? = nil) {
        guard let context = self.context, self.exchange === exchange else { return }
        self.endExchange(exchange, outcome: exchange.record.outcome)
        switch self.machine.responseEnded() {
        case .keepOpen(let readNow):
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
            self.armWaitTimer(seconds: self.settings.limits.idleTimeoutSeconds)
            if readNow {
                context.read()
            }
            // Bounded: each action consumes a part read earlier, or is the one held-back read.
            while let action = self.machine.nextPipelinedAction() {
                self.perform(action)
            }
        case .close(let lingering):
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers))).whenComplete { _ in
                if lingering {
                    Self.lingeringClose(channel)
                } else {
                    channel.close(promise: nil)
                }
            }
        }
    }

    /// Ends the exchange with a response of the relay's own.
    func sendErrorResponse(_ response: ErrorResponse, for exchange: ProxyExchange) {
        guard let context = self.context else { return }
        let keepAlive = self.machine.relayAnswerWillStart()
        exchange.record.status = response.status
        let body = response.body(allocator: context.channel.allocator)
        exchange.record.bytesSent = body.readableBytes
        context.write(
            self.wrapOutboundOut(.head(response.head(version: exchange.request.version, close: !keepAlive))),
            promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        self.finish(exchange)
    }

    /// Ends `exchange` before its response is complete: `response` when nothing was written
    /// yet, else a cut connection (the client sees the body end early).
    func fail(_ exchange: ProxyExchange, answering response: ErrorResponse?, outcome: ExchangeOutcome) {
        guard self.exchange === exchange else { return }
        exchange.record.outcome = outcome
        self.perform(self.machine.exchangeFailed(answering: response))
    }

    /// Lets go of the exchange in flight and records it in the access log and metrics with
    /// `outcome`.
    func endExchange(_ exchange: ProxyExchange, outcome: ExchangeOutcome) {
        guard self.exchange === exchange else { return }
        self.releaseExchange()
        self.recordCompletion(exchange, outcome: outcome)
    }

    /// Lets go of the exchange in flight, if any: its timers, its upstream request, its stream
    /// subscription. Alone, for an exchange refused before it was served: the answer that
    /// follows is counted as an invalid request, not in the access log.
    private func releaseExchange() {
        guard let exchange = self.exchange else { return }
        self.exchange = nil
        exchange.cancelTimers()
        exchange.subscriber?.stop()
        exchange.subscriber = nil
        exchange.connection?.close()
        exchange.connection = nil
    }

    /// How long a connection closed with request bytes possibly unread keeps discarding what
    /// the client sends.
    static let lingerTime = TimeAmount.seconds(2)

    /// Closes a connection whose client may still be sending (an error answered before the
    /// request was read, an upload cut short): closing outright with unread bytes makes the
    /// kernel send a reset, which can destroy the response before the client reads it. So the
    /// relay closes its side for writing, keeps reading and discarding (the machine is closing)
    /// until the client closes or ``lingerTime`` passes, like nginx's `lingering_close`.
    static func lingeringClose(_ channel: any Channel) {
        channel.close(mode: .output, promise: nil)
        channel.eventLoop.scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
    }

    // MARK: Timers and answers outside exchanges

    /// Closes the connection if no request head arrives in time (see
    /// ``ProxyConnectionStateMachine/headerWaitExpired()``).
    private func armWaitTimer(seconds: Double) {
        self.waitTimer?.arm(in: .fractionalSeconds(seconds)) {
            let action = self.machine.headerWaitExpired()
            if case .respondAndClose = action {
                self.logger.notice("request header timeout", metadata: ["client": "\(self.clientAddress ?? "-")"])
            }
            self.perform(action)
        }
    }

    /// The wait for a request head is over: a request arrived.
    func cancelWaitTimer() {
        self.waitTimer?.cancel()
    }

    /// Writes a response of the relay's own outside any exchange and closes the connection.
    private func respondAndClose(_ response: ErrorResponse, version: HTTPVersion) {
        guard let context = self.context else { return }
        self.registry.metrics.recordRequest(kind: .invalid, status: response.status.code)
        let channel = context.channel
        context.write(self.wrapOutboundOut(.head(response.head(version: version, close: true))), promise: nil)
        context.write(
            self.wrapOutboundOut(.body(.byteBuffer(response.body(allocator: channel.allocator)))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            Self.lingeringClose(channel)
        }
    }

    /// Reads the settings for a new request (a reload applies from the next request on).
    func refreshSettings() {
        self.settings = self.settingsStore.current
    }
}
