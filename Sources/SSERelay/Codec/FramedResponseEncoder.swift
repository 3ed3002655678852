import NIOCore
import NIOHTTP1
import SSERelayCore

/// Responses the relay has framed itself, on the client connections: the relay's stand-in for NIO's
/// `HTTPResponseEncoder` without automatic framing (see ``FramedMessageEncoder``).
final class FramedResponseEncoder: FramedMessageEncoder, RemovableChannelHandler {
    typealias Head = HTTPResponseHead
    typealias OutboundIn = HTTPPart<HTTPResponseHead, IOData>
    typealias OutboundOut = IOData

    var body = MessageBodyEncoder()
}

@available(*, unavailable)
extension FramedResponseEncoder: Sendable {}
