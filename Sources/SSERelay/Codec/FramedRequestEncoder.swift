import NIOCore
import NIOHTTP1
import SSERelayCore

/// Requests the relay has framed itself, on the upstream connections: the relay's stand-in for NIO's
/// `HTTPRequestEncoder` without automatic framing (see ``FramedMessageEncoder``).
final class FramedRequestEncoder: FramedMessageEncoder, RemovableChannelHandler {
    typealias Head = HTTPRequestHead
    typealias OutboundIn = HTTPPart<HTTPRequestHead, IOData>
    typealias OutboundOut = IOData

    var body = MessageBodyEncoder()
}

@available(*, unavailable)
extension FramedRequestEncoder: Sendable {}
