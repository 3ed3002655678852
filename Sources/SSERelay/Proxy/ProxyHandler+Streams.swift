import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

extension ProxyHandler {
    /// Serves a stream request through the stream engine: resolves it against the registry
    /// and answers, joins, resumes or starts a generation. A generation it starts asks the
    /// upstream for the normalised target, so the backend serves the very stream the key names.
    ///
    /// In a cluster, a request that would start a generation first claims its key in the
    /// directory (``claimThenResolve(_:route:key:target:cluster:)``).
    func startStream(
        _ exchange: ProxyExchange, route: StreamRouteConfiguration, key: StreamKey, target: RequestTarget
    ) {
        exchange.record.kind = .stream
        if let cluster = self.cluster,
            self.registry.wouldStart(
                key: key, route: route, lastEventID: exchange.request.headers.first(name: "last-event-id"))
        {
            return self.claimThenResolve(exchange, route: route, key: key, target: target, cluster: cluster)
        }
        self.resolveStream(exchange, route: route, key: key, target: target)
    }

    /// Resolves a stream request against the registry here, and serves it as it says.
    func resolveStream(
        _ exchange: ProxyExchange, route: StreamRouteConfiguration, key: StreamKey, target: RequestTarget
    ) {
        guard let context = self.context else { return }
        let request = exchange.request
        let client = self.budgetAddress(of: exchange)
        let upstream = GenerationUpstreamRequest(
            upstreams: self.upstreams, responseTimeoutSeconds: self.settings.upstream.responseTimeoutSeconds,
            clientRequest: request, target: target.upstreamTarget, clientAddress: self.clientAddress)
        let admission = self.registry.resolve(
            key: key, route: route, lastEventID: request.headers.first(name: "last-event-id"), client: client,
            eventLoop: context.eventLoop, upstream: upstream)
        let resolution: StreamRequestResolution
        let generation: Generation?
        switch admission {
        case .admitted(let admitted, let admittedGeneration):
            resolution = admitted
            generation = admittedGeneration
        case .refused(let limit, let reason):
            return self.refuseStream(exchange, route: route, limit: limit, reason: reason)
        case .rateLimited(let retryAfterSeconds):
            return self.refuseRate(exchange, client: client, retryAfterSeconds: retryAfterSeconds)
        }
        switch resolution {
        case .noContent:
            exchange.record.outcome = .stream(.noContent)
            self.answerNoContent(exchange)
        case .resume(_, let cursor):
            self.subscribe(exchange, to: generation, cursor: cursor, mode: .resumed)
        case .join(_, let cursor, let replayMiss):
            self.subscribe(exchange, to: generation, cursor: cursor, mode: .joined, isReplayMiss: replayMiss)
        case .start(_, let replayMiss):
            self.subscribe(exchange, to: generation, cursor: 1, mode: .started, isReplayMiss: replayMiss)
        }
    }

    /// The address the per-client budgets count `exchange` against: the one the forwarding
    /// relay gave, for a request on the peer listener; otherwise the last address of
    /// `limits.clientAddressHeader` when that is set and present, else the peer's.
    func budgetAddress(of exchange: ProxyExchange) -> String? {
        if let forwarded = exchange.forwardedClientAddress { return forwarded }
        guard let name = self.settings.limits.clientAddressHeader else { return self.clientAddress }
        return ProxyHeaderPolicy.lastForwardedAddress(in: exchange.request.headers[name]) ?? self.clientAddress
    }

    private func subscribe(
        _ exchange: ProxyExchange, to generation: Generation?, cursor: Int, mode: StreamSubscriber.Mode,
        isReplayMiss: Bool = false
    ) {
        guard let context = self.context, let generation else { return }
        exchange.record.outcome = .stream(mode.outcome, replayMiss: isReplayMiss)
        let subscriber = StreamSubscriber(
            generation: generation,
            cursor: cursor,
            mode: mode,
            isReplayMiss: isReplayMiss,
            request: exchange.request,
            writer: self,
            clientQueueBytes: self.settings.limits.clientQueueBytes,
            eventLoop: context.eventLoop
        )
        exchange.subscriber = subscriber
        subscriber.start()
    }

    /// A stream request over a limit: answered like an unreachable upstream, per the route's
    /// `upstreamFailure` (`200` with `retry:` and a comment so `EventSource` comes back later,
    /// or `503` with `Retry-After`), logged with the limit and counted. The client is told only
    /// that the relay is at capacity.
    private func refuseStream(
        _ exchange: ProxyExchange, route: StreamRouteConfiguration, limit: RelayMetrics.Limit, reason: String
    ) {
        self.registry.metrics.limitReached(limit)
        self.registry.metrics.record(.overLimit)
        exchange.record.outcome = .stream(.overLimit)
        self.logger.warning(
            "stream request refused", metadata: ["reason": "\(reason)", "path": "\(self.shownTarget(of: exchange))"])
        self.answerRetry(exchange, route: route, comment: "refused: the relay is at capacity")
    }

    /// The route's answer to a stream request that cannot be served now (see
    /// ``StreamFailureAnswer``): `200` with `retry:` and `comment`, so `EventSource` comes back
    /// later, or `status` with `Retry-After` under `upstreamFailure: "status"`.
    func answerRetry(
        _ exchange: ProxyExchange, route: StreamRouteConfiguration, comment: String,
        status: HTTPResponseStatus = .serviceUnavailable
    ) {
        let answer = StreamFailureAnswer(
            request: exchange.request, route: route, comment: comment, status: status,
            extraHeaders: [("Retry-After", "1")], keepAlive: self.machine.mayKeepAlive)
        self.writeStreamHead(answer.head)
        self.writeStreamBody(answer.body)
        self.finish(exchange)
    }

    /// `429 Too Many Requests` with `Retry-After`: the client's address starts new generations
    /// faster than `limits.streamStartsPerClientPerMinute`. A status rather than a retry
    /// stream on purpose: an `EventSource` stops at it, which is what a client starting
    /// completions this fast should do.
    private func refuseRate(_ exchange: ProxyExchange, client: String?, retryAfterSeconds: Int) {
        self.registry.metrics.limitReached(.streamStartsPerClientPerMinute)
        self.registry.metrics.record(.rateLimited)
        exchange.record.outcome = .stream(.rateLimited)
        self.logger.notice(
            "stream request rate limited",
            metadata: [
                "client": "\(client ?? "-")", "retry_after": "\(retryAfterSeconds)",
                "limit": "\(RelayMetrics.Limit.streamStartsPerClientPerMinute.rawValue)",
            ])
        self.sendErrorResponse(
            ErrorResponse(
                status: .tooManyRequests, message: "too many new streams, try again later",
                extraHeaders: [("Retry-After", String(retryAfterSeconds))]),
            for: exchange)
    }

    /// `204 No Content`: the generation ended and the client has every event. It is the only
    /// status that makes `EventSource` stop reconnecting.
    private func answerNoContent(_ exchange: ProxyExchange) {
        guard let context = self.context else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Cache-Control", value: "no-store")
        if !self.machine.responseWillStart(canKeepAlive: true) {
            headers.add(name: "Connection", value: "close")
        }
        exchange.record.status = .noContent
        context.write(
            self.wrapOutboundOut(
                .head(HTTPResponseHead(version: exchange.request.version, status: .noContent, headers: headers))),
            promise: nil)
        self.finish(exchange)
    }
}

extension ProxyHandler: StreamResponseWriter {
    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    var queuedBytes: Int {
        (try? self.context?.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    func writeStreamHead(_ head: HTTPResponseHead) {
        guard let context = self.context, let exchange = self.exchange else { return }
        var head = head
        exchange.record.status = head.status
        let saysClose = head.headers.list("connection", contains: "close")
        if !self.machine.responseWillStart(canKeepAlive: !saysClose), !saysClose {
            // The head was made from the request alone; the connection's fate says otherwise.
            head.headers.replaceOrAdd(name: "Connection", value: "close")
        }
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        // The encoder frames a body as chunks exactly when its head says `chunked` (the relay
        // sets the framing headers itself); stream responses answer GET, never HEAD.
        exchange.isChunkedStream = head.headers.lastListElement("transfer-encoding") == "chunked"
    }

    func writeStreamBody(_ body: ByteBuffer) {
        guard let context = self.context, let exchange = self.exchange else { return }
        exchange.record.bytesSent += body.readableBytes
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
    }

    func writeStreamEvent(_ event: FramedChunk) {
        guard let context = self.context, let exchange = self.exchange else { return }
        exchange.record.bytesSent += event.payloadLength
        if exchange.isChunkedStream, let encoder = self.encoderContext {
            // Written on the encoder's context, the bytes go out below it, already framed.
            encoder.write(NIOAny(IOData.byteBuffer(event.framed)), promise: nil)
        } else {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(event.payload))), promise: nil)
        }
    }

    func flushStream() {
        self.context?.flush()
    }

    func finishStream() {
        guard let exchange = self.exchange else { return }
        exchange.subscriber = nil
        self.finish(exchange)
    }

    func abortStream(reason: String) {
        guard let exchange = self.exchange else { return }
        exchange.subscriber = nil
        self.fail(exchange, answering: nil, outcome: .dropped)
    }
}

extension StreamSubscriber.Mode {
    /// The outcome metric's name for a client served this way.
    var outcome: RelayMetrics.StreamOutcome {
        switch self {
        case .started: .started
        case .joined: .joined
        case .resumed: .resumed
        }
    }
}
