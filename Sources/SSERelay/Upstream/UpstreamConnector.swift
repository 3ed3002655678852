import NIOCore
import NIOHTTP1
import NIOPosix
import SSERelayCore

/// How an ``UpstreamConnectionPool`` opens a connection to the upstream: a channel whose
/// pipeline ends in an ``UpstreamConnection`` behind the HTTP/1 client codec.
///
/// A TCP connection in the relay (``tcp(to:connectTimeout:)``); tests hand the pool channels of
/// their own, such as an `EmbeddedChannel` on the client connection's loop, to drive a whole
/// exchange without sockets.
struct UpstreamConnector {
    /// Opens a channel on `eventLoop` with ``installHandlers(on:)`` applied.
    let open: (_ eventLoop: any EventLoop) -> EventLoopFuture<any Channel>

    /// TCP connections to `addresses`, each to the next address in turn, with keep-alive
    /// probes, reading into `receiveBuffers`, and with `tls` when given (a connection is handed
    /// out once its handshake completed, both within `connectTimeout`). A connect that fails
    /// asks `addresses` to resolve the name again early.
    static func tcp(
        to addresses: UpstreamAddresses, tls: UpstreamTLS? = nil, connectTimeout: TimeAmount,
        receiveBuffers: AdaptiveRecvByteBufferAllocator
    ) -> UpstreamConnector {
        UpstreamConnector { eventLoop in
            let address: SocketAddress
            do {
                address = try addresses.nextForConnection()
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
            let connecting = ClientBootstrap(group: eventLoop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelOption(.recvAllocator, value: receiveBuffers)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try Self.installHandlers(on: channel) }
                }
                .connect(to: address)
            connecting.whenFailure { _ in addresses.connectFailed() }
            guard let tls else { return connecting }
            return connecting.flatMap { channel in
                channel.eventLoop.makeCompletedFuture { try tls.secure(channel, timeout: connectTimeout) }
                    .flatMap { $0 }
                    .map { channel }
                    .flatMapErrorThrowing { error in
                        channel.close(promise: nil)
                        throw error
                    }
            }
        }
    }

    /// Puts the HTTP/1 client codec and an ``UpstreamConnection`` on `channel`'s pipeline.
    static func installHandlers(on channel: any Channel) throws {
        let encoder = FramedRequestEncoder()
        // The connection tells the response decoder of every request head it sends, so that it
        // knows which requests were HEAD, whose responses carry no body.
        let responseDecoder = HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)
        let decoder = ByteToMessageHandler(UpstreamResponseDecoder(responseDecoder: responseDecoder))
        let connection = UpstreamConnection(codecHandlers: [encoder, decoder], responseDecoder: responseDecoder)
        try channel.pipeline.syncOperations.addHandlers([encoder, decoder, connection])
    }
}
