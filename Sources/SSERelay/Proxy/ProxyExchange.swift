import NIOCore
import NIOHTTP1
import SSERelayCore

/// One request on a client connection and the I/O serving it, from the request head to the
/// end of the response.
///
/// A reference type owned by ``ProxyHandler``: the many callbacks of one exchange (client
/// parts, upstream parts, timers) reach it on the connection's event loop. The connection's
/// protocol state (whether the request ended, whether the response started, keep-alive) is
/// the ``ProxyConnectionStateMachine``'s, not the exchange's.
final class ProxyExchange {
    /// The request as the client sent it.
    let request: HTTPRequestHead
    /// The protocol the client asked to switch to, when it sent `Upgrade`.
    let upgrade: String?

    /// The upstream connection once one is attached.
    var connection: UpstreamConnection?
    /// How many upstream connections were tried (a reused one that was found closed is retried once).
    var attempts = 0
    /// The servers a connection was asked of and could not be opened to: a retry goes elsewhere.
    var triedServers = ServerSet.empty
    /// The request body on its way upstream.
    var upload: RequestUpload
    /// Fires `504` when the upstream is too slow to answer a fully sent request: the
    /// connection's response timer, while it is armed for this exchange.
    var responseTimer: DeadlineTimer?
    /// Ends the exchange when the client stops sending its request body.
    var bodyTimer: Scheduled<Void>?
    /// Set once the exchange switched to a tunnel.
    var isUpgrading = false
    /// Whether this is a stream response with a chunked body, whose events are written
    /// pre-framed below the response encoder (see ``FramedChunk``).
    var isChunkedStream = false
    /// The stream client, when this is a stream request served by the stream engine.
    var subscriber: StreamSubscriber?
    /// What the access log and the metrics say of the exchange.
    var record: ExchangeRecord
    /// Where a stream request goes when another relay of the cluster holds its key: the pool
    /// to that relay and the route, whose failure answer the client gets if the relay cannot
    /// be reached.
    var peerForward: PeerForward?
    /// The client address the forwarding relay gave, on the peer listener: what the per-client
    /// budgets count this request against.
    var forwardedClientAddress: String?

    /// A stream request on its way to the relay that holds its key.
    ///
    /// A class, so that the pass-through path's checks of ``peerForward`` compare a pointer
    /// with `nil` rather than copy an optional route configuration out of the exchange.
    final class PeerForward {
        let pool: UpstreamConnectionPool
        let route: StreamRouteConfiguration

        init(pool: UpstreamConnectionPool, route: StreamRouteConfiguration) {
            self.pool = pool
            self.route = route
        }
    }

    init(request: HTTPRequestHead, upgrade: String?, startTime: NIODeadline) {
        self.request = request
        self.upgrade = upgrade
        self.upload = RequestUpload(startTime: startTime)
        self.record = ExchangeRecord(startTime: startTime)
    }

    /// Disarms the timers armed for this exchange.
    func cancelTimers() {
        self.cancelResponseTimer()
        self.bodyTimer?.cancel()
        self.bodyTimer = nil
    }

    /// Disarms the response timer. It belongs to the connection and serves its next exchange
    /// too, so this exchange lets go of it.
    func cancelResponseTimer() {
        self.responseTimer?.cancel()
        self.responseTimer = nil
    }
}
