import NIOCore
import NIOHTTP1

/// Receives what happens on an upstream connection while it carries one request.
///
/// The receiver and the connection live on the same event loop, so every call is a plain
/// synchronous call: no hop, no allocation per part.
protocol UpstreamResponseReceiver: AnyObject {
    /// The response head arrived.
    func upstream(_ connection: UpstreamConnection, didReceiveHead head: HTTPResponseHead)
    /// A piece of the response body arrived (de-chunked).
    func upstream(_ connection: UpstreamConnection, didReceiveBody body: ByteBuffer)
    /// The response is complete.
    func upstreamDidReceiveEnd(_ connection: UpstreamConnection)
    /// A read from the upstream socket finished: the moment to flush what was forwarded.
    func upstreamDidCompleteRead(_ connection: UpstreamConnection)
    /// The upstream socket can take more bytes again (or no longer can).
    func upstream(_ connection: UpstreamConnection, didChangeWritability isWritable: Bool)
    /// The exchange failed; the connection is already closed or closing.
    func upstream(_ connection: UpstreamConnection, didFail error: UpstreamError)
}
