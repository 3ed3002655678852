import NIOCore
import NIOHTTP1
import SSERelayCore

/// One request on a client connection and the response to it, from the request head to the
/// end of the response.
///
/// A reference type owned by ``ProxyHandler``: the many callbacks of one exchange (client
/// parts, upstream parts, timers) mutate it in place on the connection's event loop.
final class ProxyExchange {
    /// The request as the client sent it.
    let request: HTTPRequestHead
    /// The request as it is sent upstream.
    let upstreamHead: HTTPRequestHead
    /// The protocol the client asked to switch to, when it sent `Upgrade`.
    let upgrade: String?
    let startTime: NIODeadline

    /// The upstream connection once one is attached.
    var connection: UpstreamConnection?
    /// Request parts read before a connection was attached, sent once it is.
    var pendingParts = CircularBuffer<HTTPClientRequestPart>()
    /// Whether the request body is being read into ``pendingParts`` before an upstream
    /// connection is taken (`limits.requestBodyBufferBytes`).
    var isBufferingBody = false
    /// Whether the client's request `.end` was read.
    var requestEnded = false
    /// How many upstream connections were tried (a reused one that was found closed is retried once).
    var attempts = 0
    /// Fires `504` when the upstream is too slow to answer a fully sent request: the
    /// connection's response timer, while it is armed for this exchange.
    var responseTimer: DeadlineTimer?
    /// Ends the exchange when the client stops sending its request body.
    var bodyTimer: Scheduled<Void>?
    /// When the last request body part arrived (or the head, before any).
    var lastRequestProgress: NIODeadline

    /// The status sent to the client, once the response head was written.
    var responseStatus: HTTPResponseStatus?
    /// Whether the client connection stays open after this exchange.
    var keepAlive: Bool
    /// Body bytes written to the client.
    var bytesSent = 0
    /// Request body bytes read from the client.
    var requestBodyBytes = 0
    /// When the upstream's response head arrived.
    var upstreamHeadTime: NIODeadline?
    /// Set once the exchange switched to a tunnel.
    var isUpgrading = false
    /// Whether this is a stream response with a chunked body, whose events are written
    /// pre-framed below the response encoder (see ``FramedChunk``).
    var isChunkedStream = false
    /// The stream client, when this is a stream request served by the stream engine.
    var subscriber: StreamSubscriber?
    /// What kind of request this is, for the `requests_total` metric.
    var kind = RelayMetrics.RequestKind.passthrough
    /// How the exchange ended, for the access log: `ok`, or for stream requests `started`,
    /// `joined`, `resumed`, `no_content`.
    var outcome = "ok"

    init(request: HTTPRequestHead, upstreamHead: HTTPRequestHead, upgrade: String?, startTime: NIODeadline) {
        self.request = request
        self.upstreamHead = upstreamHead
        self.upgrade = upgrade
        self.startTime = startTime
        self.lastRequestProgress = startTime
        // An HTTP/1.0 message with Transfer-Encoding has faulty framing: the connection closes
        // after it (RFC 9112 §6.1).
        let faultyFraming = request.version == .http1_0 && request.headers.contains(name: "transfer-encoding")
        self.keepAlive = request.isKeepAlive && upgrade == nil && !faultyFraming
    }

    var responseStarted: Bool { self.responseStatus != nil }

    /// Disarms the timers armed for this exchange.
    func cancelTimers() {
        self.cancelResponseTimer()
        self.bodyTimer?.cancel()
    }

    /// Disarms the response timer. It belongs to the connection and serves its next exchange
    /// too, so this exchange lets go of it.
    func cancelResponseTimer() {
        self.responseTimer?.cancel()
        self.responseTimer = nil
    }
}
