public import NIOCore
public import NIOHTTP1

/// A response the relay makes itself when something failed: a status and one line saying what
/// failed, as `text/plain`.
///
/// One type for every such answer, whichever side of the relay makes it: the proxy (a malformed
/// request, a failed upstream), the stream engine (a route's `status` failure answer) and the
/// listener (the `503` of a connection over the limit).
public struct ErrorResponse: Sendable {
    public var status: HTTPResponseStatus
    /// One line a user can act on; never the operator's detail (addresses, errors).
    public var message: String
    /// Headers such as `Retry-After`.
    public var extraHeaders: [(String, String)]

    public init(status: HTTPResponseStatus, message: String, extraHeaders: [(String, String)] = []) {
        self.status = status
        self.message = message
        self.extraHeaders = extraHeaders
    }

    /// The head, with framing for `body` and `Connection: close` when `close` is set.
    public func head(version: HTTPVersion, close: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(self.message.utf8.count + 1))
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in self.extraHeaders {
            headers.add(name: name, value: value)
        }
        if close {
            headers.add(name: "Connection", value: "close")
        } else if version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: version, status: self.status, headers: headers)
    }

    public func body(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: self.message.utf8.count + 1)
        buffer.writeString(self.message)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }

    /// The whole response as bytes, for answers written before the HTTP codec is in place
    /// (the `503` of a connection over the limit).
    public func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        let head = self.head(version: .http1_1, close: true)
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeString("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n")
        for (name, value) in head.headers {
            buffer.writeString("\(name): \(value)\r\n")
        }
        buffer.writeString("\r\n")
        var body = self.body(allocator: allocator)
        buffer.writeBuffer(&body)
        return buffer
    }
}
