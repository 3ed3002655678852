import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

extension ProxyHandler {
    /// Serves a GET through the stream engine when its normalised target matches a stream route;
    /// returns whether it did. A generation it starts asks the upstream for the normalised
    /// target, so the backend serves the very stream the key names.
    func startStream(_ exchange: ProxyExchange) -> Bool {
        guard let context = self.context else { return false }
        let request = exchange.request
        let target = RequestTarget(normalizing: request.uri)
        for route in self.settings.streams {
            guard
                let key = StreamKey(
                    route: route, target: target, headers: request.headers, redaction: self.settings.queryRedaction)
            else { continue }
            let lastEventID = request.headers.first(name: "last-event-id")
            let client = self.budgetAddress(of: request)
            let admission = self.registry.resolve(
                key: key, route: route, lastEventID: lastEventID, client: client, eventLoop: context.eventLoop)
            exchange.kind = .stream
            if exchange.request.version == .http1_0 {
                exchange.keepAlive = false
            }
            let resolution: StreamRequestResolution
            let generation: Generation?
            switch admission {
            case .admitted(let admitted, let admittedGeneration):
                resolution = admitted
                generation = admittedGeneration
            case .refused(let limit, let reason):
                self.refuseStream(exchange, route: route, limit: limit, reason: reason)
                return true
            case .rateLimited(let retryAfterSeconds):
                self.refuseRate(exchange, client: client, retryAfterSeconds: retryAfterSeconds)
                return true
            }
            switch resolution {
            case .noContent:
                exchange.outcome = "no_content"
                self.answerNoContent(exchange)
            case .resume(_, let cursor):
                self.subscribe(exchange, to: generation, cursor: cursor, mode: .resumed)
            case .join(_, let cursor, let replayMiss):
                exchange.outcome = replayMiss ? "joined_replay_miss" : "joined"
                self.subscribe(exchange, to: generation, cursor: cursor, mode: .joined, isReplayMiss: replayMiss)
            case .start(let forwardedLastEventID, let replayMiss):
                exchange.outcome = replayMiss ? "started_replay_miss" : "started"
                if let generation {
                    let upstream = GenerationUpstream(
                        generation: generation,
                        pool: self.pool,
                        requestHead: ProxyHeaderPolicy.upstreamStreamRequestHead(
                            for: request, target: target.upstreamTarget, clientAddress: self.clientAddress,
                            forwardedLastEventID: forwardedLastEventID,
                            upstreamHost: self.settings.upstream.url.hostHeader),
                        responseTimeoutSeconds: self.settings.upstream.responseTimeoutSeconds
                    )
                    upstream.start()
                }
                self.subscribe(exchange, to: generation, cursor: 1, mode: .started, isReplayMiss: replayMiss)
            }
            return true
        }
        return false
    }

    /// The address the per-client budgets count `request` against: the last address of
    /// `limits.clientAddressHeader` when that is set and present, else the peer's.
    private func budgetAddress(of request: HTTPRequestHead) -> String? {
        guard let name = self.settings.limits.clientAddressHeader else { return self.clientAddress }
        return ProxyHeaderPolicy.lastForwardedAddress(in: request.headers[name]) ?? self.clientAddress
    }

    private func subscribe(
        _ exchange: ProxyExchange, to generation: Generation?, cursor: Int, mode: StreamSubscriber.Mode,
        isReplayMiss: Bool = false
    ) {
        guard let context = self.context, let generation else { return }
        if exchange.outcome == "ok" {
            exchange.outcome = mode.rawValue
        }
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
        exchange.outcome = "over_limit"
        self.logger.warning(
            "stream request refused", metadata: ["reason": "\(reason)", "path": "\(self.shownTarget(of: exchange))"])
        let answer = StreamFailureAnswer(
            request: exchange.request, route: route, comment: "refused: the relay is at capacity",
            status: .serviceUnavailable, extraHeaders: [("Retry-After", "1")], keepAlive: exchange.keepAlive)
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
        exchange.outcome = "rate_limited"
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
        if !exchange.keepAlive {
            headers.add(name: "Connection", value: "close")
        }
        exchange.responseStatus = .noContent
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
        guard let context = self.context, case .exchanging(let exchange) = self.state else { return }
        exchange.responseStatus = head.status
        if head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) {
            exchange.keepAlive = false
        }
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        // The encoder frames a body as chunks exactly when its head says `chunked` (the relay
        // sets the framing headers itself); stream responses answer GET, never HEAD.
        exchange.isChunkedStream = head.headers[canonicalForm: "transfer-encoding"].last == "chunked"
    }

    func writeStreamBody(_ body: ByteBuffer) {
        guard let context = self.context, case .exchanging(let exchange) = self.state else { return }
        exchange.bytesSent += body.readableBytes
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
    }

    func writeStreamEvent(_ event: FramedChunk) {
        guard let context = self.context, case .exchanging(let exchange) = self.state else { return }
        exchange.bytesSent += event.payloadLength
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
        guard case .exchanging(let exchange) = self.state else { return }
        exchange.subscriber = nil
        self.finish(exchange)
    }

    func abortStream(reason: String) {
        guard case .exchanging(let exchange) = self.state else { return }
        exchange.subscriber = nil
        exchange.outcome = "dropped"
        self.recordCompletion(exchange, outcome: "dropped")
        self.state = .closing
        self.context?.close(promise: nil)
    }
}
