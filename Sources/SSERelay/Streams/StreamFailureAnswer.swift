import NIOCore
import NIOHTTP1
import SSERelayCore

/// The answer to a stream request the relay cannot serve (upstream unreachable or too slow, a
/// limit reached), per the route's `upstreamFailure`: one place for both the stream engine and
/// the proxy.
///
/// A browser's `EventSource` treats any status other than `200` as final and never reconnects,
/// so by default (`retry`) the answer is a `200` event stream with the route's `retry:` and a
/// comment that says what failed, which ends at once: the browser comes back on its own. With
/// `status` it is the status itself, with a short plain-text body. The text is the public one,
/// never the operator's detail.
struct StreamFailureAnswer {
    var head: HTTPResponseHead
    var body: ByteBuffer

    /// - Parameters:
    ///   - comment: What the retry stream's comment says, such as `upstream unavailable: …`.
    ///   - status: The status of the `status` mode's answer.
    ///   - extraHeaders: Headers of the `status` mode's answer, such as `Retry-After`.
    init(
        request: HTTPRequestHead, route: StreamRouteConfiguration, comment: String, status: HTTPResponseStatus,
        extraHeaders: [(String, String)] = [], keepAlive: Bool
    ) {
        let oneLine = comment.split(whereSeparator: \.isNewline).joined(separator: " ")
        switch route.upstreamFailure {
        case .retry:
            self.head = StreamResponseHead.failure(request: request, route: route)
            self.body = EventStreamWriter.retryAnswer(
                retryMs: route.retryMs, comment: oneLine, allocator: ByteBufferAllocator())
        case .status:
            let response = ErrorResponse(status: status, message: oneLine, extraHeaders: extraHeaders)
            self.head = response.head(version: request.version, close: !keepAlive)
            self.body = response.body(allocator: ByteBufferAllocator())
        }
    }
}
