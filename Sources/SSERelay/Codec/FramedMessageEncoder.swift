import NIOCore
import NIOHTTP1
import SSERelayCore

/// What ``FramedRequestEncoder`` and ``FramedResponseEncoder`` share: writing the HTTP/1 messages
/// the relay has framed itself, with the bytes NIO's encoders write without automatic framing.
///
/// The head goes out as one buffer allocated for its size (`HTTPEncodableHead/encoded(allocator:)`)
/// instead of a buffer write per piece; the body and end as `MessageBodyEncoder` frames them.
///
/// A protocol with the work in its extension, adopted by two final classes, rather than one
/// generic class: a generic class's writes go through runtime generic metadata on every part,
/// where each conformance here is compiled for its concrete class. NIO's helpers that unwrap and
/// wrap a part are called as instance methods (`self.`): called as static ones (`Self.`), the
/// optimiser left them unspecialised, which callgrind measured at about 1,000 instructions per
/// part (a runtime metadata lookup and a dynamic cast).
protocol FramedMessageEncoder: ChannelOutboundHandler
where OutboundIn == HTTPPart<Head, IOData>, OutboundOut == IOData {
    associatedtype Head: HTTPEncodableHead
    /// The framing of the message being written, decided by its head.
    var body: MessageBodyEncoder { get set }
}

extension FramedMessageEncoder {
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
