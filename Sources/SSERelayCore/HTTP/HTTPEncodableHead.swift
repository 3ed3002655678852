public import NIOCore
public import NIOHTTP1

/// A message head the relay writes on the wire itself: a request head to the upstream, a response
/// head to a client (`FramedRequestEncoder`, `FramedResponseEncoder`).
public protocol HTTPEncodableHead: Equatable, Sendable {
    /// The message's HTTP version, which decides with ``headers`` whether its body is chunked
    /// (see ``MessageBodyEncoder``).
    var version: HTTPVersion { get }
    /// The header fields, written in order, exactly as they are.
    var headers: HTTPHeaders { get }
    /// The head as it goes on the wire, in one buffer allocated for its size.
    func encoded(allocator: ByteBufferAllocator) -> ByteBuffer
}

extension HTTPRequestHead: HTTPEncodableHead {
    /// `<method> <target> HTTP/<major>.<minor>`, the header fields, the empty line.
    public func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        let method = self.method.rawValue
        let startLineLength =
            method.utf8.count + 1 + self.uri.utf8.count + 1 + HTTPHeadWriter.length(of: self.version) + 2
        return HTTPHeadWriter.head(startLineLength: startLineLength, headers: self.headers, allocator: allocator) {
            writer in
            writer.append(method)
            writer.append(UInt8(ascii: " "))
            writer.append(self.uri)
            writer.append(UInt8(ascii: " "))
            writer.append(self.version)
            writer.appendLineEnd()
        }
    }
}

extension HTTPResponseHead: HTTPEncodableHead {
    /// `HTTP/<major>.<minor> <code> <reason phrase>`, the header fields, the empty line.
    public func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        let reasonPhrase = self.status.reasonPhrase
        let startLineLength =
            HTTPHeadWriter.length(of: self.version) + 1 + HTTPHeadWriter.decimalLength(of: self.status.code) + 1
            + reasonPhrase.utf8.count + 2
        return HTTPHeadWriter.head(startLineLength: startLineLength, headers: self.headers, allocator: allocator) {
            writer in
            writer.append(self.version)
            writer.append(UInt8(ascii: " "))
            writer.append(decimal: self.status.code)
            writer.append(UInt8(ascii: " "))
            writer.append(reasonPhrase)
            writer.appendLineEnd()
        }
    }
}
