import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

/// The upstream side of a pass-through exchange: taking a connection, the response timer,
/// failures, and the response coming back through ``UpstreamResponseReceiver``, on the
/// connection's event loop.
extension ProxyHandler: UpstreamResponseReceiver {
    /// Takes an upstream connection for `exchange`, from the server the balancer chooses, and
    /// sends what was read of the request. A connection that could not be opened sends nothing,
    /// so the request goes to the next server that was not tried, whatever its method.
    func attachUpstream(to exchange: ProxyExchange) {
        exchange.attempts += 1
        // The first call tried no server, and a retry is made only when one is left; the guard
        // is for the impossible case, which must not leave the exchange hanging.
        guard let pool = exchange.peerForward?.pool ?? self.upstreams.poolForRequest(excluding: exchange.triedServers)
        else {
            return self.exchange(exchange, failed: .noServerLeft)
        }
        let attach: UpstreamConnectionPool.Acquisition = { result in
            switch result {
            case .success(let connection):
                guard self.exchange === exchange else {
                    // The exchange ended (client gone, timeout) while the connection was coming.
                    connection.release()
                    return
                }
                exchange.connection = connection
                // Made here, not with the exchange: a stream request never needs it.
                var upstreamHead = ProxyHeaderPolicy.upstreamRequestHead(
                    for: exchange.request, clientAddress: self.clientAddress, upgrade: exchange.upgrade,
                    upstreamHost: pool.server.hostHeader)
                if exchange.peerForward != nil {
                    self.cluster?.credentials.authorize(
                        &upstreamHead.headers, client: self.budgetAddress(of: exchange))
                }
                connection.begin(upstreamHead, for: self)
                while let part = exchange.upload.pendingParts.popFirst() {
                    connection.write(part)
                }
                connection.flush()
                if self.machine.requestEnded {
                    self.requestWasSent(exchange)
                }
                self.resumeReading(.peerNotReady)
                if !connection.isWritable {
                    self.machine.pauseReading(.peerUnwritable)
                }
            case .failure(let error):
                exchange.triedServers.insert(pool.server.index)
                if error.isBeforeSending, self.exchange === exchange, exchange.peerForward == nil,
                    self.upstreams.hasServer(notIn: exchange.triedServers)
                {
                    self.logger.info(
                        "upstream server could not be reached, trying the next",
                        metadata: ["server": "\(pool.server.name)", "error": "\(error.detail)"])
                    self.attachUpstream(to: exchange)
                    return
                }
                self.exchange(exchange, failed: error)
            }
        }
        if exchange.peerForward == nil {
            pool.acquire(attach)
        } else {
            // A forwarded stream holds its connection for its whole life, like a generation's.
            pool.acquireForStream(attach)
        }
    }

    /// Starts the upstream's clock once the whole request is sent: it now has
    /// `upstream.responseTimeoutSeconds` to answer, however long the upload took.
    func requestWasSent(_ exchange: ProxyExchange) {
        guard self.context != nil else { return }
        exchange.bodyTimer?.cancel()
        var timeout = self.settings.upstream.responseTimeoutSeconds
        if exchange.peerForward != nil, let cluster = self.cluster {
            // The owner may itself wait the response timeout for the backend, after a claim;
            // its own answer to that should reach the client, not this relay's.
            timeout += cluster.configuration.directoryTimeoutSeconds + 1
        }
        exchange.responseTimer = self.responseTimer
        self.responseTimer?.arm(in: .fractionalSeconds(timeout)) {
            self.exchange(exchange, failed: .responseTimeout(seconds: timeout))
        }
    }

    /// Ends `exchange` after an upstream failure: an error response when nothing was sent yet,
    /// a cut connection otherwise (the client sees the body end early).
    func exchange(_ exchange: ProxyExchange, failed error: UpstreamError) {
        guard self.exchange === exchange else { return }
        exchange.cancelTimers()
        let connection = exchange.connection
        exchange.connection = nil
        connection?.close()
        if let forward = exchange.peerForward {
            return self.forward(exchange, to: forward, failed: error)
        }

        if self.machine.isAwaitingResponse, error.reason == UpstreamError.closedBeforeResponse.reason,
            connection?.wasReused ?? false, exchange.attempts == 1,
            ProxyHeaderPolicy.isSafeToRetry(exchange.request)
        {
            // The pooled connection was closed by the upstream as it was reused: nothing was
            // processed, so one retry on a fresh connection is safe.
            self.logger.debug("retrying on a fresh upstream connection", metadata: ["error": "\(error)"])
            self.attachUpstream(to: exchange)
            return
        }

        if error.isServerFault {
            connection?.server?.recordFailure(error.reason)
        }
        self.registry.metrics.recordUpstreamError(reason: error.reason)
        self.logger.warning(
            "upstream failed",
            metadata: [
                "reason": "\(error.reason)", "error": "\(error.detail)",
                "method": "\(exchange.request.method)", "path": "\(self.shownTarget(of: exchange))",
            ]
        )
        if self.machine.isAwaitingResponse {
            self.sendErrorResponse(ErrorResponse(status: error.status, message: error.publicDetail), for: exchange)
        } else {
            self.fail(exchange, answering: nil, outcome: .upstreamFailed(reason: error.reason))
        }
    }

    // MARK: UpstreamResponseReceiver

    func upstream(_ connection: UpstreamConnection, didReceiveHead head: HTTPResponseHead) {
        guard let context = self.context, let exchange = self.exchange(using: connection) else { return }
        exchange.cancelResponseTimer()
        exchange.record.upstreamHeadTime = .now()
        if self.settings.logHeaders {
            self.logger.info("response headers", metadata: .redactedHeaders(head.headers))
        }
        if head.status == .switchingProtocols, exchange.upgrade != nil {
            self.switchToTunnel(exchange, upstreamHead: head)
            return
        }

        var headers = head.headers
        HopByHopHeaders.remove(from: &headers)
        ProxyHeaderPolicy.appendVia(to: &headers, receivedVersion: head.version)
        let framing = ResponseFraming.frame(
            headers: &headers,
            status: head.status,
            requestMethod: exchange.request.method,
            clientVersion: exchange.request.version
        )
        // A declined upgrade ends the connection too: the client's parser stopped at the
        // upgrade request, so it cannot carry another.
        let keepAlive = self.machine.responseWillStart(canKeepAlive: framing != .untilClose && exchange.upgrade == nil)
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if exchange.request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        exchange.record.status = head.status
        if exchange.peerForward != nil {
            self.cluster?.metrics.record(.relayed)
        }
        if head.status.code >= 500, ProxyHeaderPolicy.isIdempotent(exchange.request.method) {
            connection.server?.recordFailure("status \(head.status.code)")
        } else {
            connection.server?.recordSuccess()
        }
        let clientHead = HTTPResponseHead(version: exchange.request.version, status: head.status, headers: headers)
        context.write(self.wrapOutboundOut(.head(clientHead)), promise: nil)
    }

    func upstream(_ connection: UpstreamConnection, didReceiveBody body: ByteBuffer) {
        guard let context = self.context, let exchange = self.exchange(using: connection), !exchange.isUpgrading else {
            return
        }
        exchange.record.bytesSent += body.readableBytes
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        if !context.channel.isWritable {
            connection.pauseReading()
        }
    }

    func upstreamDidCompleteRead(_ connection: UpstreamConnection) {
        guard self.exchange(using: connection) != nil else { return }
        self.context?.flush()
    }

    func upstreamDidReceiveEnd(_ connection: UpstreamConnection) {
        guard let exchange = self.exchange(using: connection), !exchange.isUpgrading else { return }
        exchange.connection = nil
        connection.release()
        self.finish(exchange)
    }

    func upstream(_ connection: UpstreamConnection, didChangeWritability isWritable: Bool) {
        guard isWritable, self.exchange(using: connection) != nil else { return }
        self.resumeReading(.peerUnwritable)
    }

    func upstream(_ connection: UpstreamConnection, didFail error: UpstreamError) {
        guard let exchange = self.exchange(using: connection) else { return }
        self.exchange(exchange, failed: error)
    }

    /// The current exchange when `connection` is the one attached to it.
    private func exchange(using connection: UpstreamConnection) -> ProxyExchange? {
        guard let exchange = self.exchange, exchange.connection === connection else { return nil }
        return exchange
    }
}
