import NIOCore
import NIOHTTP1

/// NIO's HTTP/1 response decoder for an upstream connection, without watching the
/// connection's writes.
///
/// The decoder must know each request's method (a response to `HEAD` has no body). NIO's
/// `ByteToMessageHandler` tells it by observing every part written through the pipeline, and
/// unwraps each part on a path the optimiser leaves unspecialised: callgrind measured about
/// 2,300 instructions per part, two parts per proxied request. The upstream connection writes
/// request heads in one place and tells ``responseDecoder`` itself
/// (``UpstreamConnection/begin(_:for:)``), so a handler around this decoder observes nothing.
struct UpstreamResponseDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart

    /// The decoder that parses responses and is told of every request head sent.
    let responseDecoder: HTTPResponseDecoder

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try self.responseDecoder.decode(context: context, buffer: &buffer)
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try self.responseDecoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    mutating func decoderAdded(context: ChannelHandlerContext) {
        self.responseDecoder.decoderAdded(context: context)
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) {
        self.responseDecoder.decoderRemoved(context: context)
    }
}
