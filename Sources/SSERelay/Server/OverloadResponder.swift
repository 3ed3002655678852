import NIOCore
import NIOHTTP1
import SSERelayCore

/// The only handler of a connection accepted over `limits.maxConnections`: answers `503` with
/// `Retry-After` and closes, without parsing anything.
///
/// It closes its side for writing first and discards what the client still sends for a short
/// while, so the client reads the `503` instead of a reset caused by unread request bytes.
final class OverloadResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long the client may keep sending before the connection is closed regardless.
    static let lingerTime = TimeAmount.seconds(2)

    private let response: ErrorResponse

    /// The body says only that the relay is at capacity: the limit is the operator's business,
    /// and the log line that goes with it names it.
    init() {
        self.response = ErrorResponse(
            status: .serviceUnavailable,
            message: "the relay is at capacity, retry shortly",
            extraHeaders: [("Retry-After", "1")]
        )
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(self.response.encoded(allocator: channel.allocator)))
            .whenComplete { _ in channel.close(mode: .output, promise: nil) }
        channel.eventLoop.scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Discarded: the request is not served.
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
