public import NIOCore
public import NIOHTTP1

/// Frames the body and end of an HTTP/1 message the relay has framed itself, for the
/// connections' encoders (`FramedRequestEncoder`, `FramedResponseEncoder`): chunked or as it
/// is, as the message's head decided. Each piece goes to a `write` function, with the promise it
/// completes.
///
/// A body is chunked exactly when the head is HTTP/1.1 (or a later 1.x) and its first
/// `Transfer-Encoding` field is `chunked`, as NIO's encoders decide it without automatic framing.
/// A small chunk goes out as one buffer (size line, payload, CRLF: a copy of at most
/// ``copiedChunkLimit`` bytes) instead of three writes through the pipeline.
public struct MessageBodyEncoder: Sendable {
    /// The largest body part copied into a chunk of its own; a larger one is written as it is,
    /// between its size line and CRLF.
    static var copiedChunkLimit: Int { 4096 }

    /// Writes one piece with the promise it completes (`nil` for none).
    public typealias Write = (IOData, EventLoopPromise<Void>?) -> Void

    /// Whether the body of the message being written is chunked.
    private var isChunked = false

    public init() {}

    /// Decides the framing of the body that follows a head with `version` and `headers`.
    public mutating func begin(version: HTTPVersion, headers: HTTPHeaders) {
        self.isChunked = false
        guard version.major == 1, version.minor >= 1 else { return }
        for field in headers where HeaderBytes.name(field.name, is: "transfer-encoding") {
            self.isChunked = field.value == "chunked"
            return
        }
    }

    /// Writes a body part: as it is, or as a chunk.
    public func body(
        _ part: IOData, promise: EventLoopPromise<Void>?, allocator: ByteBufferAllocator, write: Write
    ) {
        // An empty chunk would end the body: an empty part is written as it is, which keeps
        // its promise in order with the writes around it.
        guard self.isChunked, part.readableBytes > 0 else {
            write(part, promise)
            return
        }
        if case .byteBuffer(let payload) = part, payload.readableBytes <= Self.copiedChunkLimit {
            let chunk = FramedChunk(payload: payload, allocator: allocator)
            write(.byteBuffer(chunk.framed), promise)
            return
        }
        var sizeLine = allocator.buffer(capacity: FramedChunk.maxSizeLineBytes)
        sizeLine.writeString(String(part.readableBytes, radix: 16))
        sizeLine.writeStaticString("\r\n")
        // The CRLF after the payload shares the size line's storage.
        let lineEnd = sizeLine.getSlice(at: sizeLine.writerIndex - 2, length: 2) ?? sizeLine
        write(.byteBuffer(sizeLine), nil)
        write(part, nil)
        // Writes complete in order, and a failed write fails every write after it: the last
        // write's promise stands for the three.
        write(.byteBuffer(lineEnd), promise)
    }

    /// Writes the end of the body: the last chunk with the trailers, or nothing.
    public mutating func end(
        trailers: HTTPHeaders?, promise: EventLoopPromise<Void>?, allocator: ByteBufferAllocator, write: Write
    ) {
        guard self.isChunked else {
            // Nothing ends a body that is not chunked; a promise still completes in order.
            if let promise {
                write(.byteBuffer(allocator.buffer(capacity: 0)), promise)
            }
            return
        }
        self.isChunked = false
        let last =
            trailers.map { HTTPHeadWriter.section($0, allocator: allocator, prefix: "0\r\n") }
            ?? ByteBuffer(staticString: "0\r\n\r\n")
        write(.byteBuffer(last), promise)
    }
}
