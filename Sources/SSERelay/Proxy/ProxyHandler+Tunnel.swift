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
        exchange.record.status = upstreamHead.status
        var headers = upstreamHead.headers
        let upgrade = headers[canonicalForm: "upgrade"].joined(separator: ", ")
        HopByHopHeaders.remove(from: &headers)
        headers.add(name: "Connection", value: "upgrade")
        headers.add(name: "Upgrade", value: upgrade.isEmpty ? (exchange.upgrade ?? "") : upgrade)
        context.writeAndFlush(
            self.wrapOutboundOut(
                .head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))),
            promise: nil
        )
        self.machine.upgraded()
        // The connection now belongs to the tunnel: the exchange lets go of it without closing it.
        exchange.connection = nil
        self.endExchange(exchange, outcome: .upgraded)
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
        var removals: [EventLoopFuture<Void>] = []
        do {
            let client = clientChannel.pipeline.syncOperations
            let upstream = upstreamChannel.pipeline.syncOperations
            try client.addHandler(clientEnd)
            try upstream.addHandler(upstreamEnd)
            // The HTTP handlers go last to first, so the bytes a decoder still holds flow
            // straight into the tunnel end.
            removals.append(upstream.removeHandler(connection))
            removals += connection.codecHandlers.reversed().map { upstream.removeHandler($0) }
            removals.append(client.removeHandler(context: context))
            removals += self.codecHandlers.reversed().map { client.removeHandler($0) }
        } catch {
            clientChannel.close(promise: nil)
            upstreamChannel.close(promise: nil)
            return
        }
        // A decoder hands over the bytes it held on a later tick, without a read-complete:
        // once every handler is gone, send them on and issue the reads held back meanwhile.
        EventLoopFuture.andAllComplete(removals, on: clientChannel.eventLoop)
            .assumeIsolated()
            .whenComplete { _ in
                clientEnd.flushPartnerWrites()
                upstreamEnd.flushPartnerWrites()
                clientChannel.read()
                upstreamChannel.read()
            }
    }
}
