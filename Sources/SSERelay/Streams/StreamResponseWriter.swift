import NIOCore
import NIOHTTP1
import SSERelayCore

/// The client connection as a ``StreamSubscriber`` sees it: the ``ProxyHandler`` that owns the
/// connection writes what the subscriber hands it and decides what happens to the connection
/// afterwards. Called on the connection's event loop only.
protocol StreamResponseWriter: AnyObject {
    /// Whether the client's socket takes more bytes without queueing them.
    var isWritable: Bool { get }
    /// Bytes written but not yet taken by the socket, for `/streams`.
    var queuedBytes: Int { get }
    /// The client's IP address, for `/streams`.
    var clientAddress: String? { get }
    func writeStreamHead(_ head: HTTPResponseHead)
    func writeStreamBody(_ body: ByteBuffer)
    /// An event of the shared log: the same framed bytes go to every client of the generation.
    func writeStreamEvent(_ event: FramedChunk)
    func flushStream()
    /// The response is complete (the generation ended and the client has every event).
    func finishStream()
    /// The client is dropped: the connection closes without completing the response.
    func abortStream(reason: String)
}
