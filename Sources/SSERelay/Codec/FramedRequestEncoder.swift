import NIOCore
import NIOHTTP1
import SSERelayCore

/// Writes HTTP/1 requests the relay has framed itself, on the upstream connections: the relay's
/// stand-in for NIO's `HTTPRequestEncoder` without automatic framing, with the same bytes on the
/// wire.
///
/// The head goes out as one buffer allocated for its size
/// (`HTTPEncodableHead/encoded(allocator:)`) instead of a buffer write per piece; the body and
/// end as `MessageBodyEncoder` frames them.
///
/// NIO's helpers that unwrap and wrap a part are called as instance methods (`self.`): called as
/// static ones (`Self.`), the optimiser left them unspecialised, which callgrind measured at about
/// 1,000 instructions per part (a runtime metadata lookup and a dynamic cast).
final class FramedRequestEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = IOData

    private var body = MessageBodyEncoder()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let allocator = context.channel.allocator
        switch self.unwrapOutboundIn(data) {
        case .head(let head):
            self.body.begin(version: head.version, headers: head.headers)
            context.write(self.wrapOutboundOut(.byteBuffer(head.encoded(allocator: allocator))), promise: promise)
        case .body(let part):
            self.body.body(part, promise: promise, allocator: allocator) { piece, promise in
                context.write(self.wrapOutboundOut(piece), promise: promise)
            }
        case .end(let trailers):
            self.body.end(trailers: trailers, promise: promise, allocator: allocator) { piece, promise in
                context.write(self.wrapOutboundOut(piece), promise: promise)
            }
        }
    }
}

@available(*, unavailable)
extension FramedRequestEncoder: Sendable {}
