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
        self.init(payloadCapacity: payload.readableBytes, allocator: allocator) { buffer in
            buffer.writeImmutableBuffer(payload)
        }
    }

    /// Frames what `writePayload` writes, in the one buffer it is written to: room for the
    /// longest size line is kept in front of the payload, and the size line is put right
    /// before the payload once its length is known, so nothing is copied.
    public init(
        payloadCapacity: Int, allocator: ByteBufferAllocator = ByteBufferAllocator(),
        writePayload: (inout ByteBuffer) -> Void
    ) {
        var framed = allocator.buffer(capacity: Self.maxFramingBytes + payloadCapacity)
        framed.writeRepeatingByte(0, count: Self.maxSizeLineBytes)
        let payloadStart = framed.writerIndex
        writePayload(&framed)
        let size = framed.writerIndex - payloadStart
        guard size > 0 else {
            self.framed = ByteBuffer()
            self.sizeLineLength = 0
            return
        }
        framed.writeStaticString("\r\n")
        let sizeLine = String(size, radix: 16) + "\r\n"
        let sizeLineStart = payloadStart - sizeLine.utf8.count
        framed.setString(sizeLine, at: sizeLineStart)
        framed.moveReaderIndex(to: sizeLineStart)
        self.framed = framed
        self.sizeLineLength = UInt8(sizeLine.utf8.count)
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

    /// The longest size line: 16 hex digits (any size an `Int` holds) and CRLF.
    static let maxSizeLineBytes = 16 + 2
    /// The size line and the CRLF after the payload, at most.
    static let maxFramingBytes = maxSizeLineBytes + 2
}
