import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

/// The upstream side of a pass-through exchange: the response comes back through these calls,
/// on the connection's event loop.
extension ProxyHandler: UpstreamResponseReceiver {
    func upstream(_ connection: UpstreamConnection, didReceiveHead head: HTTPResponseHead) {
        guard let context = self.context, let exchange = self.exchange(using: connection) else { return }
        exchange.cancelResponseTimer()
        exchange.upstreamHeadTime = .now()
        if self.settings.logHeaders {
            self.logger.info("response headers", metadata: .redactedHeaders(head.headers))
        }
        if head.status == .switchingProtocols, exchange.upgrade != nil {
            self.switchToTunnel(exchange, upstreamHead: head)
            return
        }
        if exchange.upgrade != nil {
            // The upstream declined the upgrade; the client's parser stopped at the upgrade
            // request, so this connection cannot carry another request.
            exchange.keepAlive = false
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
        if framing == .untilClose {
            exchange.keepAlive = false
        }
        exchange.keepAlive = exchange.keepAlive && !self.isQuiescing
        if !exchange.keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if exchange.request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        exchange.responseStatus = head.status
        let clientHead = HTTPResponseHead(version: exchange.request.version, status: head.status, headers: headers)
        context.write(self.wrapOutboundOut(.head(clientHead)), promise: nil)
    }

    func upstream(_ connection: UpstreamConnection, didReceiveBody body: ByteBuffer) {
        guard let context = self.context, let exchange = self.exchange(using: connection), !exchange.isUpgrading else {
            return
        }
        exchange.bytesSent += body.readableBytes
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
        self.pool.release(connection)
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
        guard case .exchanging(let exchange) = self.state, exchange.connection === connection else { return nil }
        return exchange
    }
}
