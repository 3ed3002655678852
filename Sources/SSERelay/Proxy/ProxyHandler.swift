import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import SSERelayCore

/// The last handler of a client connection: proxies each request to the upstream and the
/// response back, one exchange at a time, with backpressure both ways.
///
/// The pipeline in front of it is NIO's HTTP/1 codec without pipelining assistance, so the
/// connection keeps reading while a response streams and a client that goes away is noticed at
/// once. A request that arrives before the previous response is done (pipelining) is held in
/// ``pipelinedParts`` and reads pause until it is served.
///
/// Backpressure: while the upstream socket is full, reads from the client pause; while the
/// client socket is full, the upstream connection stops reading. A slow client therefore slows
/// only its own upstream read, and memory stays bounded by the sockets' buffers.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum State {
        /// Waiting for a request head.
        case idle
        /// A request is being proxied.
        case exchanging(ProxyExchange)
        /// The connection became a byte tunnel; this handler is on its way out.
        case tunnelling
        /// The connection is closing or closed; nothing more is processed.
        case closing
    }

    /// The settings of the exchange in flight (or of the next one): read from ``settingsStore``
    /// when the connection is accepted and at the start of every request, so a reload applies to
    /// the next request and never to one in flight.
    private(set) var settings: ProxySettings
    private let settingsStore: ProxySettingsStore
    let pool: UpstreamConnectionPool
    let registry: StreamRegistry
    let logger: Logger
    /// The HTTP codec handlers in front of this one, removed when the connection is tunnelled.
    let codecHandlers: [any RemovableChannelHandler]

    private(set) var context: ChannelHandlerContext?
    /// The context of the response encoder in front of this handler: stream events written
    /// there pass below the encoder, already framed (see ``writeStreamEvent(_:)``).
    private(set) var encoderContext: ChannelHandlerContext?
    var state = State.idle
    private var readGate = ReadGate()
    private var pipelinedParts = CircularBuffer<HTTPServerRequestPart>()
    /// The wait for the first request's head, then for each next request on the keep-alive
    /// connection; created once the handler has its event loop.
    private var waitTimer: DeadlineTimer?
    /// The wait for the upstream's answer to each request; one per connection, re-armed by
    /// every exchange (see ``ProxyExchange/responseTimer``).
    private var responseTimer: DeadlineTimer?
    private var servedRequests = 0
    private var upstreamNeedsFlush = false
    private(set) var clientAddress: String?
    /// Set when the server quiesces: the connection closes after the response in flight.
    private(set) var isQuiescing = false

    init(
        settings: ProxySettingsStore,
        pool: UpstreamConnectionPool,
        registry: StreamRegistry,
        logger: Logger,
        codecHandlers: [any RemovableChannelHandler]
    ) {
        self.settingsStore = settings
        self.settings = settings.current
        self.pool = pool
        self.registry = registry
        self.logger = logger
        self.codecHandlers = codecHandlers
    }

    // MARK: Connection lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.waitTimer = DeadlineTimer(eventLoop: context.eventLoop)
        self.responseTimer = DeadlineTimer(eventLoop: context.eventLoop)
        self.encoderContext = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
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
        if case .exchanging(let exchange) = self.state {
            exchange.cancelTimers()
            exchange.connection?.close()
            exchange.subscriber?.stop()
            self.recordCompletion(exchange, outcome: "client_closed")
        }
        self.state = .closing
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            self.isQuiescing = true
            if case .idle = self.state {
                self.state = .closing
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .closing = self.state, error is HTTPParserError {
            // The rest of a refused request, read while lingering: nothing to answer.
            return
        }
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
            self.registry.metrics.limitReached(.maxHeaderBytes)
            response = ErrorResponse(
                status: .requestHeaderFieldsTooLarge,
                message: "request header fields too large")
        } else {
            response = ErrorResponse(status: .badRequest, message: "malformed HTTP request: \(parserError)")
        }
        self.logger.notice(
            "rejected request",
            metadata: [
                "client": "\(self.clientAddress ?? "-")", "status": "\(response.status.code)",
                "error": "\(parserError)",
            ]
        )
        switch self.state {
        case .idle:
            self.respondAndClose(response, version: .http1_1)
        case .exchanging(let exchange) where !exchange.responseStarted:
            exchange.cancelTimers()
            exchange.connection?.close()
            self.respondAndClose(response, version: exchange.request.version)
        case .exchanging, .tunnelling, .closing:
            self.state = .closing
            context.close(promise: nil)
        }
    }

    // MARK: Reading the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        switch self.state {
        case .idle:
            guard case .head(let head) = part else {
                // Parts of a request whose exchange ended early (the upstream answered before
                // the body was read); the connection closes after that response.
                return
            }
            self.startExchange(head)
        case .exchanging(let exchange) where exchange.subscriber != nil && !exchange.requestEnded:
            // A stream request has no body worth sending anywhere: only its end matters.
            if case .end = part {
                exchange.requestEnded = true
            }
        case .exchanging(let exchange):
            if exchange.requestEnded {
                // The next request of a pipelining client: served after this response.
                self.pipelinedParts.append(part)
                self.readGate.pause(.pipelined)
            } else {
                self.forwardRequestPart(part, of: exchange)
            }
        case .tunnelling, .closing:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.upstreamNeedsFlush, case .exchanging(let exchange) = self.state {
            self.upstreamNeedsFlush = false
            exchange.connection?.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if case .closing = self.state {
            // Lingering: what the client still sends is read and discarded.
            context.read()
        } else if self.readGate.shouldRead() {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .exchanging(let exchange) = self.state {
            exchange.connection?.resumeReading()
            exchange.subscriber?.writabilityChanged()
        }
        context.fireChannelWritabilityChanged()
    }

    private func startExchange(_ head: HTTPRequestHead) {
        guard let context = self.context else { return }
        self.waitTimer?.cancel()
        self.settings = self.settingsStore.current
        if let (status, reason) = ProxyHeaderPolicy.rejection(of: head) {
            self.logger.notice(
                "rejected request",
                metadata: ["client": "\(self.clientAddress ?? "-")", "status": "\(status.code)", "error": "\(reason)"])
            return self.respondAndClose(ErrorResponse(status: status, message: reason), version: head.version)
        }
        let upgrade = HopByHopHeaders.requestedUpgrade(in: head.headers)
        let exchange = ProxyExchange(
            request: head,
            upstreamHead: ProxyHeaderPolicy.upstreamRequestHead(
                for: head, clientAddress: self.clientAddress, upgrade: upgrade,
                upstreamHost: self.settings.upstream.url.hostHeader),
            upgrade: upgrade,
            startTime: .now()
        )
        self.state = .exchanging(exchange)
        self.servedRequests += 1
        if self.settings.logHeaders {
            self.logger.info("request headers", metadata: .redactedHeaders(head.headers))
        }

        let bodyLimit = self.settings.limits.maxRequestBodyBytes
        if bodyLimit > 0, let length = head.headers.first(name: "content-length").flatMap(Int.init), length > bodyLimit
        {
            // Refused before `100 Continue`, so a client that waits for it never sends the body.
            return self.refuseOversizedBody(of: exchange)
        }

        if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            // The relay reads the body itself, so it tells the client to go ahead at once.
            context.writeAndFlush(
                self.wrapOutboundOut(.head(.init(version: head.version, status: .continue))), promise: nil)
        }

        if head.method == .GET, upgrade == nil, self.startStream(exchange) {
            return
        }
        if ProxyHeaderPolicy.requestHasBody(head) {
            self.armBodyTimer(for: exchange)
            let buffer = self.settings.limits.requestBodyBufferBytes
            let declared = head.headers.first(name: "content-length").flatMap(Int.init)
            if buffer > 0, declared.map({ $0 <= buffer }) ?? true {
                // Read the body first: a slow upload then holds only its own connection.
                exchange.isBufferingBody = true
                return
            }
        }
        self.attachUpstream(to: exchange)
    }

    /// Starts the upstream's clock once the whole request is sent: it now has
    /// `upstream.responseTimeoutSeconds` to answer, however long the upload took.
    private func requestWasSent(_ exchange: ProxyExchange) {
        guard self.context != nil else { return }
        exchange.bodyTimer?.cancel()
        let timeout = self.settings.upstream.responseTimeoutSeconds
        exchange.responseTimer = self.responseTimer
        self.responseTimer?.arm(in: .fractionalSeconds(timeout)) {
            self.exchange(exchange, failed: .responseTimeout(seconds: timeout))
        }
    }

    /// Ends an exchange whose client stops sending its request body for
    /// `limits.idleTimeoutSeconds`, or has not sent all of it within
    /// `limits.requestBodyTimeoutSeconds` of the head, however steadily it trickles: `408`.
    /// A body that arrives one byte at a time therefore cannot hold the exchange (and, once
    /// larger than the buffer, an upstream connection) for longer than the deadline.
    /// One timer per exchange, pushed back by the time of the last body part.
    private func armBodyTimer(for exchange: ProxyExchange, after delay: TimeAmount? = nil) {
        guard let context = self.context else { return }
        let limits = self.settings.limits
        let idle = TimeAmount.fractionalSeconds(limits.idleTimeoutSeconds)
        let deadline = exchange.startTime + .fractionalSeconds(limits.requestBodyTimeoutSeconds)
        let firstDelay = delay ?? min(idle, deadline - .now())
        exchange.bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: firstDelay) {
            guard case .exchanging(let current) = self.state, current === exchange, !exchange.requestEnded else {
                return
            }
            let now = NIODeadline.now()
            let quiet = now - exchange.lastRequestProgress
            let reason: String
            if now >= deadline {
                reason = "request body not complete within limits.requestBodyTimeoutSeconds"
                self.registry.metrics.limitReached(.requestBodyTimeoutSeconds)
            } else if quiet >= idle {
                reason = "request body stalled for limits.idleTimeoutSeconds"
            } else {
                return self.armBodyTimer(for: exchange, after: min(idle - quiet, deadline - now))
            }
            self.logger.notice(
                "request body timeout",
                metadata: [
                    "client": "\(self.clientAddress ?? "-")", "reason": "\(reason)",
                    "received_bytes": "\(exchange.requestBodyBytes)",
                ])
            self.abandon(exchange, answering: ErrorResponse(status: .requestTimeout, message: "request body timeout"))
        }
    }

    /// Ends `exchange` while its request is still coming: the upstream request is dropped, and
    /// the client gets `response` and a lingering close, or a cut connection when its response
    /// already started.
    private func abandon(_ exchange: ProxyExchange, answering response: ErrorResponse) {
        exchange.cancelTimers()
        exchange.connection?.close()
        exchange.connection = nil
        if exchange.responseStarted {
            self.state = .closing
            self.context?.close(promise: nil)
        } else {
            self.respondAndClose(response, version: exchange.request.version)
        }
    }

    private func forwardRequestPart(_ part: HTTPServerRequestPart, of exchange: ProxyExchange) {
        let upstreamPart: HTTPClientRequestPart
        switch part {
        case .head:
            // The decoder never sends a head before the previous end.
            return
        case .body(let body):
            exchange.lastRequestProgress = .now()
            exchange.requestBodyBytes += body.readableBytes
            let limit = self.settings.limits.maxRequestBodyBytes
            if limit > 0, exchange.requestBodyBytes > limit {
                return self.refuseOversizedBody(of: exchange)
            }
            upstreamPart = .body(.byteBuffer(body))
        case .end(let trailers):
            exchange.requestEnded = true
            upstreamPart = .end(trailers)
        }
        if exchange.isBufferingBody {
            exchange.pendingParts.append(upstreamPart)
            if exchange.requestEnded || exchange.requestBodyBytes > self.settings.limits.requestBodyBufferBytes {
                exchange.isBufferingBody = false
                self.attachUpstream(to: exchange)
            }
            return
        }
        guard let connection = exchange.connection, exchange.pendingParts.isEmpty else {
            exchange.pendingParts.append(upstreamPart)
            self.readGate.pause(.peerNotReady)
            return
        }
        connection.write(upstreamPart)
        self.upstreamNeedsFlush = true
        if exchange.requestEnded {
            self.requestWasSent(exchange)
        }
        if !connection.isWritable {
            self.readGate.pause(.peerUnwritable)
        }
    }

    /// `413` for a body over `limits.maxRequestBodyBytes` (or a cut connection when the
    /// response already started); the upstream request, if any, is abandoned.
    private func refuseOversizedBody(of exchange: ProxyExchange) {
        let limit = self.settings.limits.maxRequestBodyBytes
        self.registry.metrics.limitReached(.maxRequestBodyBytes)
        self.logger.notice(
            "request body over the limit",
            metadata: [
                "limit": "\(limit)", "path": "\(self.shownTarget(of: exchange))",
                "client": "\(self.clientAddress ?? "-")",
            ])
        self.abandon(
            exchange,
            answering: ErrorResponse(
                status: .payloadTooLarge, message: "request body too large"))
    }

    // MARK: The upstream side

    private func attachUpstream(to exchange: ProxyExchange) {
        exchange.attempts += 1
        self.pool.acquire { result in
            switch result {
            case .success(let connection):
                guard case .exchanging(let current) = self.state, current === exchange else {
                    // The exchange ended (client gone, timeout) while the connection was coming.
                    self.pool.release(connection)
                    return
                }
                exchange.connection = connection
                connection.begin(exchange.upstreamHead, for: self)
                while let part = exchange.pendingParts.popFirst() {
                    connection.write(part)
                }
                connection.flush()
                if exchange.requestEnded {
                    self.requestWasSent(exchange)
                }
                self.resumeReading(.peerNotReady)
                if !connection.isWritable {
                    self.readGate.pause(.peerUnwritable)
                }
            case .failure(let error):
                self.exchange(exchange, failed: error)
            }
        }
    }

    /// Ends `exchange` after an upstream failure: an error response when nothing was sent yet,
    /// a cut connection otherwise (the client sees the body end early).
    func exchange(_ exchange: ProxyExchange, failed error: UpstreamError) {
        guard case .exchanging(let current) = self.state, current === exchange else { return }
        exchange.cancelTimers()
        let connection = exchange.connection
        exchange.connection = nil
        connection?.close()

        if !exchange.responseStarted, error.reason == UpstreamError.closedBeforeResponse.reason,
            connection?.wasReused ?? false, exchange.attempts == 1,
            ProxyHeaderPolicy.isSafeToRetry(exchange.request)
        {
            // The pooled connection was closed by the upstream as it was reused: nothing was
            // processed, so one retry on a fresh connection is safe.
            self.logger.debug("retrying on a fresh upstream connection", metadata: ["error": "\(error)"])
            self.attachUpstream(to: exchange)
            return
        }

        self.registry.metrics.recordUpstreamError(reason: error.reason)
        self.logger.warning(
            "upstream failed",
            metadata: [
                "reason": "\(error.reason)", "error": "\(error.detail)",
                "method": "\(exchange.request.method)", "path": "\(self.shownTarget(of: exchange))",
            ]
        )
        if exchange.responseStarted {
            self.recordCompletion(exchange, outcome: error.reason)
            self.state = .closing
            self.context?.close(promise: nil)
        } else {
            self.sendErrorResponse(ErrorResponse(status: error.status, message: error.publicDetail), for: exchange)
        }
    }

    /// Ends the exchange with a response of the relay's own.
    func sendErrorResponse(_ response: ErrorResponse, for exchange: ProxyExchange) {
        guard let context = self.context else { return }
        exchange.keepAlive = exchange.keepAlive && exchange.requestEnded && !self.isQuiescing
        exchange.responseStatus = response.status
        let body = response.body(allocator: context.channel.allocator)
        exchange.bytesSent = body.readableBytes
        context.write(
            self.wrapOutboundOut(.head(response.head(version: exchange.request.version, close: !exchange.keepAlive))),
            promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        self.finish(exchange)
    }

    /// Writes the end of the response, logs it, and makes the connection ready for the next
    /// request or closes it.
    func finish(_ exchange: ProxyExchange, trailers: HTTPHeaders? = nil) {
        guard let context = self.context else { return }
        exchange.cancelTimers()
        self.recordCompletion(exchange, outcome: exchange.outcome)
        let keepAlive = exchange.keepAlive && exchange.requestEnded && !self.isQuiescing
        if keepAlive {
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
            self.state = .idle
            self.armWaitTimer(seconds: self.settings.limits.idleTimeoutSeconds)
            self.resumeReading(.peerUnwritable)
            self.resumeReading(.peerNotReady)
            self.servePipelinedParts()
        } else {
            self.state = .closing
            let channel = context.channel
            let requestEnded = exchange.requestEnded
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers))).whenComplete { _ in
                if requestEnded {
                    channel.close(promise: nil)
                } else {
                    Self.lingeringClose(channel)
                }
            }
        }
    }

    /// How long a connection closed with request bytes possibly unread keeps discarding what
    /// the client sends.
    static let lingerTime = TimeAmount.seconds(2)

    /// Closes a connection whose client may still be sending (an error answered before the
    /// request was read, an upload cut short): closing outright with unread bytes makes the
    /// kernel send a reset, which can destroy the response before the client reads it. So the
    /// relay closes its side for writing, keeps reading and discarding (state `.closing`) until
    /// the client closes or ``lingerTime`` passes, like nginx's `lingering_close`.
    static func lingeringClose(_ channel: any Channel) {
        channel.close(mode: .output, promise: nil)
        channel.eventLoop.scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
    }

    private func servePipelinedParts() {
        while case .idle = self.state, let part = self.pipelinedParts.popFirst() {
            if case .head(let head) = part {
                self.startExchange(head)
            }
        }
        while case .exchanging(let exchange) = self.state, !exchange.requestEnded,
            let part = self.pipelinedParts.popFirst()
        {
            self.forwardRequestPart(part, of: exchange)
        }
        if self.pipelinedParts.isEmpty {
            self.resumeReading(.pipelined)
        }
    }

    // MARK: Helpers

    func resumeReading(_ reason: ReadGate.Reasons) {
        if self.readGate.resume(reason) {
            self.context?.read()
        }
    }

    /// Closes the connection if no request head arrives in time: `408` for a client that has
    /// not completed its first request, silence for an idle keep-alive connection.
    private func armWaitTimer(seconds: Double) {
        let isFirstRequest = self.servedRequests == 0
        self.waitTimer?.arm(in: .fractionalSeconds(seconds)) {
            guard case .idle = self.state else { return }
            if isFirstRequest {
                self.logger.notice("request header timeout", metadata: ["client": "\(self.clientAddress ?? "-")"])
                self.respondAndClose(
                    ErrorResponse(
                        status: .requestTimeout, message: "request header timeout"),
                    version: .http1_1
                )
            } else {
                self.state = .closing
                self.context?.close(promise: nil)
            }
        }
    }

    /// Writes a response of the relay's own outside any exchange and closes the connection.
    private func respondAndClose(_ response: ErrorResponse, version: HTTPVersion) {
        guard let context = self.context else { return }
        self.registry.metrics.recordRequest(kind: .invalid, status: response.status.code)
        self.state = .closing
        let channel = context.channel
        context.write(self.wrapOutboundOut(.head(response.head(version: version, close: true))), promise: nil)
        context.write(
            self.wrapOutboundOut(.body(.byteBuffer(response.body(allocator: channel.allocator)))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            Self.lingeringClose(channel)
        }
    }
}
