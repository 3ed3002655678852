public import NIOCore

/// A body part framed once as an HTTP/1.1 chunk, so the same bytes can go to many clients.
///
/// A stream's events reach every client as identical chunks. NIO's response encoder would
/// frame each write again, allocating a size line per client per event; the fan-out instead
/// writes ``framed`` below the encoder to clients with a chunked response, and ``payload``
/// through it to the rest (HTTP/1.0 clients, whose bodies end with the connection).
public struct FramedChunk: Sendable, Hashable {
    /// `<size in hex>\r\n<payload>\r\n`: the chunk as it goes on the wire. Empty when the
    /// payload is, because an empty chunk would end the body.
    public let framed: ByteBuffer
    /// Where the payload starts in ``framed``: after the size line. Kept instead of a second
    /// buffer so a retained event costs one `ByteBuffer`, not two.
    private let sizeLineLength: UInt8

    /// Frames `payload`, copying it once into a buffer with room for the size line and CRLF.
    public init(payload: ByteBuffer, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        let size = payload.readableBytes
        guard size > 0 else {
            self.framed = payload
            self.sizeLineLength = 0
            return
        }
        var framed = allocator.buffer(capacity: size + Self.maxFramingBytes)
        framed.writeString(String(size, radix: 16))
        framed.writeStaticString("\r\n")
        self.sizeLineLength = UInt8(framed.readableBytes)
        framed.writeImmutableBuffer(payload)
        framed.writeStaticString("\r\n")
        self.framed = framed
    }

    /// The bytes alone: a view into ``framed``'s storage, not a copy.
    public var payload: ByteBuffer {
        guard self.sizeLineLength > 0 else { return self.framed }
        let start = self.framed.readerIndex + Int(self.sizeLineLength)
        // Cannot fail: the range lies within `framed`'s readable bytes by construction.
        return self.framed.getSlice(at: start, length: self.payloadLength) ?? ByteBuffer()
    }

    /// The payload's size, without making the slice.
    public var payloadLength: Int {
        self.sizeLineLength > 0 ? self.framed.readableBytes - Int(self.sizeLineLength) - 2 : 0
    }

    /// The size line and the CRLF after the payload, for any size an `Int` holds (16 hex digits).
    static let maxFramingBytes = 16 + 2 + 2
}
