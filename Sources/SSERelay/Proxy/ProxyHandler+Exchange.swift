import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

/// Starting an exchange and carrying its request body: the plan, the checks before anything
/// goes upstream, body buffering and the body's deadlines.
extension ProxyHandler {
    /// A new request head: refuses it, serves it through the stream engine, or passes it on
    /// (see ``RequestPlan``).
    func startExchange(_ head: HTTPRequestHead) {
        guard let context = self.context else { return }
        self.cancelWaitTimer()
        self.refreshSettings()
        var head = head
        var forwardedClientAddress: String?
        if self.isPeerListener {
            guard let admitted = self.admitPeerRequest(head) else { return }
            (head, forwardedClientAddress) = admitted
        }
        let plan = RequestPlan(for: head, routes: self.settings.streams, redaction: self.settings.queryRedaction)
        if self.isPeerListener, case .passThrough = plan {
            return self.perform(
                self.machine.exchangeFailed(
                    answering: ErrorResponse(
                        status: .notFound, message: "the peer listener serves stream requests only")))
        }
        if case .reject(let status, let reason) = plan {
            self.logger.notice(
                "rejected request",
                metadata: ["client": "\(self.clientAddress ?? "-")", "status": "\(status.code)", "error": "\(reason)"])
            return self.perform(self.machine.exchangeFailed(answering: ErrorResponse(status: status, message: reason)))
        }
        let upgrade: String?
        if case .passThrough(let requested) = plan { upgrade = requested } else { upgrade = nil }
        let exchange = ProxyExchange(request: head, upgrade: upgrade, startTime: .now())
        exchange.forwardedClientAddress = forwardedClientAddress
        self.exchange = exchange
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

        if case .stream(let route, let key, let target) = plan {
            self.machine.exchangeIsStream()
            return self.startStream(exchange, route: route, key: key, target: target)
        }
        if ProxyHeaderPolicy.requestHasBody(head) {
            self.armBodyTimer(for: exchange)
            let buffer = self.settings.limits.requestBodyBufferBytes
            let declared = head.headers.first(name: "content-length").flatMap(Int.init)
            if buffer > 0, declared.map({ $0 <= buffer }) ?? true {
                // Read the body first: a slow upload then holds only its own connection.
                exchange.upload.isBuffering = true
                return
            }
        }
        self.attachUpstream(to: exchange)
    }

    /// A part of the request body from the client.
    func forwardBody(_ body: ByteBuffer, of exchange: ProxyExchange) {
        exchange.upload.lastProgress = .now()
        exchange.upload.bytes += body.readableBytes
        let limit = self.settings.limits.maxRequestBodyBytes
        if limit > 0, exchange.upload.bytes > limit {
            return self.refuseOversizedBody(of: exchange)
        }
        self.send(.body(.byteBuffer(body)), of: exchange)
    }

    /// The end of the request from the client.
    func forwardEnd(_ trailers: HTTPHeaders?, of exchange: ProxyExchange) {
        self.send(.end(trailers), of: exchange)
    }

    /// Sends a request part upstream, or holds it while the body is buffered or no connection
    /// is attached yet (reads pause until one is).
    private func send(_ part: HTTPClientRequestPart, of exchange: ProxyExchange) {
        if exchange.upload.isBuffering {
            exchange.upload.pendingParts.append(part)
            if self.machine.requestEnded || exchange.upload.bytes > self.settings.limits.requestBodyBufferBytes {
                exchange.upload.isBuffering = false
                self.attachUpstream(to: exchange)
            }
            return
        }
        guard let connection = exchange.connection, exchange.upload.pendingParts.isEmpty else {
            exchange.upload.pendingParts.append(part)
            self.machine.pauseReading(.peerNotReady)
            return
        }
        connection.write(part)
        self.upstreamNeedsFlush = true
        if self.machine.requestEnded {
            self.requestWasSent(exchange)
        }
        if !connection.isWritable {
            self.machine.pauseReading(.peerUnwritable)
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
        let deadline = exchange.upload.startTime + .fractionalSeconds(limits.requestBodyTimeoutSeconds)
        let firstDelay = delay ?? min(idle, deadline - .now())
        exchange.bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: firstDelay) {
            guard self.exchange === exchange, !self.machine.requestEnded else { return }
            let now = NIODeadline.now()
            let quiet = now - exchange.upload.lastProgress
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
                    "received_bytes": "\(exchange.upload.bytes)",
                ])
            self.fail(
                exchange, answering: ErrorResponse(status: .requestTimeout, message: "request body timeout"),
                outcome: .requestBodyRefused)
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
        self.fail(
            exchange, answering: ErrorResponse(status: .payloadTooLarge, message: "request body too large"),
            outcome: .requestBodyRefused)
    }
}
