import NIOCore
import NIOHTTP1

/// One request as NIO's `HTTPRequestDecoder` handed it to the relay's handler.
struct DecodedRequest {
    var head: HTTPRequestHead
    var body: [ByteBuffer] = []
    var trailers: HTTPHeaders?
    /// Whether the decoder reached the request's end (`.end`).
    var isComplete = false

    var bodyBytes: Int { self.body.reduce(0) { $0 + $1.readableBytes } }
}
