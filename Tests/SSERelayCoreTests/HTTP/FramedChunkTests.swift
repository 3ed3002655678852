import NIOCore
import Testing

@testable import SSERelayCore

@Suite("FramedChunk")
struct FramedChunkTests {
    @Test("an event is framed as one chunk: size in hex, CRLF, the bytes, CRLF")
    func framing() {
        let chunk = FramedChunk(payload: ByteBuffer(string: "data: 1\n\n"))
        #expect(String(buffer: chunk.framed) == "9\r\ndata: 1\n\n\r\n")
        #expect(String(buffer: chunk.payload) == "data: 1\n\n")
        #expect(chunk.payloadLength == 9)
    }

    @Test("the payload is a view into the framed bytes, not a copy")
    func sharedStorage() {
        let chunk = FramedChunk(payload: ByteBuffer(string: "data: shared\n\n"))
        let framedRange = chunk.framed.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let payloadStart = chunk.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(payloadStart == framedRange + UInt("e\r\n".utf8.count))
    }

    @Test("framed in place, the payload's writer gets the buffer: same bytes as framing a copy")
    func framedInPlace() {
        for size in [1, 15, 16, 300, 5000] {
            let text = String(repeating: "y", count: size)
            let inPlace = FramedChunk(payloadCapacity: size) { $0.writeString(text) }
            #expect(inPlace.framed == FramedChunk(payload: ByteBuffer(string: text)).framed)
            #expect(String(buffer: inPlace.payload) == text)
            #expect(inPlace.payloadLength == size)
        }
    }

    @Test("a payload writer may write more than it reserved, or nothing")
    func framedInPlaceBeyondCapacity() throws {
        let grown = FramedChunk(payloadCapacity: 2) { $0.writeString(String(repeating: "z", count: 40)) }
        #expect(
            try #require(Self.decodeOneChunk(grown.framed)) == ByteBuffer(string: String(repeating: "z", count: 40)))
        let empty = FramedChunk(payloadCapacity: 10) { _ in }
        #expect(empty.framed.readableBytes == 0)
        #expect(empty.payloadLength == 0)
    }

    @Test("an empty payload stays empty: an empty chunk would end the body")
    func empty() {
        let chunk = FramedChunk(payload: ByteBuffer())
        #expect(chunk.framed.readableBytes == 0)
        #expect(chunk.payload.readableBytes == 0)
        #expect(chunk.payloadLength == 0)
    }

    @Test(
        "every size decodes back to its payload, across hex digit boundaries",
        arguments: [
            1, 9, 15, 16, 17, 255, 256, 4095, 4096, 65_535, 65_536, 1 << 20,
        ])
    func sizes(size: Int) throws {
        var payload = ByteBuffer()
        payload.writeRepeatingByte(UInt8(ascii: "x"), count: size)
        let chunk = FramedChunk(payload: payload)
        let decoded = try #require(Self.decodeOneChunk(chunk.framed))
        #expect(decoded == payload)
        #expect(chunk.payload == payload)
        #expect(chunk.payloadLength == size)
    }

    @Test("random payloads decode back to themselves (property)")
    func randomPayloads() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 1...600, using: &generator)).map { _ in UInt8.random(in: 0...255) }
            let payload = ByteBuffer(bytes: bytes)
            let chunk = FramedChunk(payload: payload)
            #expect(try #require(Self.decodeOneChunk(chunk.framed)) == payload)
        }
    }

    /// A strict reader of exactly one chunk, as RFC 9112 §7.1 frames it: the size line, the
    /// bytes, CRLF, and nothing after.
    private static func decodeOneChunk(_ framed: ByteBuffer) -> ByteBuffer? {
        let bytes = Array(framed.readableBytesView)
        guard let lineEnd = bytes.firstIndex(of: UInt8(ascii: "\r")), lineEnd + 1 < bytes.count,
            bytes[lineEnd + 1] == UInt8(ascii: "\n"),
            let size = Int(String(decoding: bytes[..<lineEnd], as: UTF8.self), radix: 16)
        else { return nil }
        let start = lineEnd + 2
        guard bytes.count == start + size + 2, bytes[start + size] == UInt8(ascii: "\r"),
            bytes[start + size + 1] == UInt8(ascii: "\n")
        else { return nil }
        return ByteBuffer(bytes: bytes[start..<(start + size)])
    }
}
