import FuzzSupport
import NIOCore
import NIOHTTP1
import SSERelayCore

/// Writes what the relay sends upstream for a request as the relay's upstream encoder does (the
/// head's `encoded(allocator:)`, then `MessageBodyEncoder`; see `FramedRequestEncoder`), and
/// reads it back with an HTTP/1.1 request decoder standing in for the backend.
///
/// Invariants:
/// - `upstream-framing` (named `stream-framing` for a stream request, `upgrade-framing` for one
///   that asks to switch protocols, `connect-framing` for `CONNECT` (whose body HTTP/1.1
///   parsers never read), `connection-framing` for one whose `Connection` header names
///   `Content-Length` or `Transfer-Encoding`, so that each known cause can be told apart and
///   tolerated on its own in long runs): the backend reads exactly one request, with exactly
///   the body bytes the relay sent and nothing after it, and it is complete exactly when the
///   relay has written its end (a request whose client is still sending must stay open upstream
///   too); anything else means the backend and the relay disagree on where the request ends
///   (request smuggling, or a connection that hangs and then eats the start of the next one).
/// - `upstream-head`: the backend reads the head the relay meant to send.
enum UpstreamRoundTrip {
    static func check(_ request: DecodedRequest, sentAs upstream: RelayRequestModel.UpstreamRequest) {
        let named = Set(request.head.headers[canonicalForm: "connection"].map { $0.lowercased() })
        if upstream.streamRoute != nil {
            self.check(request, sentAs: upstream, framing: "stream-framing")
        } else if upstream.upgrade != nil {
            self.check(request, sentAs: upstream, framing: "upgrade-framing")
        } else if request.head.method == .CONNECT {
            self.check(request, sentAs: upstream, framing: "connect-framing")
        } else if !named.isDisjoint(with: ["content-length", "transfer-encoding"]) {
            self.check(request, sentAs: upstream, framing: "connection-framing")
        } else {
            self.check(request, sentAs: upstream, framing: "upstream-framing")
        }
    }

    private static func check(
        _ request: DecodedRequest,
        sentAs upstream: RelayRequestModel.UpstreamRequest,
        framing: StaticString
    ) {
        let wire = self.wire(upstream)
        let seen = RequestDecoding.decodeAsUpstream(wire)
        let sentBody = upstream.body.flatMap { Array($0.readableBytesView) }
        let context = {
            let kind = upstream.streamRoute.map { "stream request on \($0.path)" } ?? "request"
            let state = request.isComplete ? "" : " so far"
            return
                "\(kind) \(Self.quoted(request.head.method.rawValue + " " + request.head.uri)) with \(request.bodyBytes) body bytes\(state), sent upstream as \(Self.quoted(wire))"
        }

        Oracle.check(
            seen.error == nil, framing,
            "\(context()): the backend cannot parse it: \(seen.error.map { "\($0)" } ?? "")")
        Oracle.check(
            seen.requests.count == 1, framing,
            "\(context()): the backend reads \(seen.requests.count) requests")
        guard let first = seen.requests.first else { return }
        if upstream.isComplete {
            Oracle.check(
                first.isComplete, framing,
                "\(context()): the backend waits for more of the request after \(first.bodyBytes) body bytes")
        } else {
            Oracle.check(
                !first.isComplete, framing,
                "\(context()): the backend reads the request as complete while the client is still sending its body")
        }
        let seenBody = first.body.flatMap { Array($0.readableBytesView) }
        Oracle.check(
            seenBody == sentBody, framing,
            "\(context()): the backend reads body \(Self.quoted(seenBody)), the relay sent \(Self.quoted(sentBody))")
        Oracle.check(
            seen.leftoverBytes == 0, framing,
            "\(context()): \(seen.leftoverBytes) bytes follow the request that the backend does not read as its body")

        let sentHeaders = upstream.head.headers.map { [$0.name, $0.value] }
        let seenHeaders = first.head.headers.map { [$0.name, $0.value] }
        Oracle.check(
            first.head.method == upstream.head.method && first.head.uri == upstream.head.uri
                && first.head.version == upstream.head.version && seenHeaders == sentHeaders,
            "upstream-head",
            "\(context()): the backend reads \(first.head.method) \(first.head.uri) \(seenHeaders)")
    }

    /// The bytes the relay's upstream connection writes for `upstream`.
    static func wire(_ upstream: RelayRequestModel.UpstreamRequest) -> ByteBuffer {
        let allocator = ByteBufferAllocator()
        var wire = upstream.head.encoded(allocator: allocator)
        var body = MessageBodyEncoder()
        body.begin(version: upstream.head.version, headers: upstream.head.headers)
        let append: MessageBodyEncoder.Write = { piece, _ in
            guard case .byteBuffer(var bytes) = piece else {
                fatalError("harness: the body encoder wrote a file region")
            }
            wire.writeBuffer(&bytes)
        }
        for part in upstream.body {
            body.body(.byteBuffer(part), promise: nil, allocator: allocator, write: append)
        }
        if upstream.isComplete {
            body.end(trailers: upstream.trailers, promise: nil, allocator: allocator, write: append)
        }
        return wire
    }

    static func quoted(_ buffer: ByteBuffer) -> String {
        self.quoted(Array(buffer.readableBytesView))
    }

    static func quoted(_ bytes: [UInt8]) -> String {
        self.quoted(String(decoding: bytes, as: UTF8.self))
    }

    static func quoted(_ text: String) -> String {
        String(reflecting: text)
    }
}
