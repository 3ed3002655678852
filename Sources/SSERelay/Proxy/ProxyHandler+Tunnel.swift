import NIOCore
import NIOHTTP1
import SSERelayCore

extension ProxyHandler {
    /// Answers the client's `Upgrade` with the upstream's `101` and turns both connections into
    /// a byte tunnel.
    ///
    /// The pipelines are rebuilt on the next event loop tick, outside the decoders' callbacks:
    /// both HTTP parsers stopped at the upgrade, so bytes that arrive meanwhile wait in them and
    /// are handed to the tunnel when the decoders are removed.
    func switchToTunnel(_ exchange: ProxyExchange, upstreamHead: HTTPResponseHead) {
        guard let context = self.context, let connection = exchange.connection else { return }
        exchange.isUpgrading = true
        exchange.responseStatus = upstreamHead.status
        var headers = upstreamHead.headers
        let upgrade = headers[canonicalForm: "upgrade"].joined(separator: ", ")
        HopByHopHeaders.remove(from: &headers)
        headers.add(name: "Connection", value: "upgrade")
        headers.add(name: "Upgrade", value: upgrade.isEmpty ? (exchange.upgrade ?? "") : upgrade)
        context.writeAndFlush(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))),
            promise: nil
        )
        self.state = .tunnelling
        self.logAccess(exchange, outcome: "upgraded")
        context.eventLoop.assumeIsolated().execute {
            self.buildTunnel(to: connection)
        }
    }

    private func buildTunnel(to connection: UpstreamConnection) {
        guard let context = self.context, let upstreamChannel = connection.channel else {
            connection.close()
            self.context?.close(promise: nil)
            return
        }
        connection.pool?.detach(connection)
        connection.detachReceiver()
        let (clientEnd, upstreamEnd) = TunnelHandler.makePair()
        let clientChannel = context.channel
        do {
            let client = clientChannel.pipeline.syncOperations
            let upstream = upstreamChannel.pipeline.syncOperations
            try client.addHandler(clientEnd)
            try upstream.addHandler(upstreamEnd)
            // The HTTP handlers go last to first, so the bytes a decoder still holds flow
            // straight into the tunnel end.
            upstream.removeHandler(connection, promise: nil)
            for handler in connection.codecHandlers.reversed() {
                upstream.removeHandler(handler, promise: nil)
            }
            client.removeHandler(context: context, promise: nil)
            for handler in self.codecHandlers.reversed() {
                client.removeHandler(handler, promise: nil)
            }
        } catch {
            clientChannel.close(promise: nil)
            upstreamChannel.close(promise: nil)
            return
        }
        // Reads held back while the HTTP handlers were in place are issued again.
        clientChannel.read()
        upstreamChannel.read()
    }
}
