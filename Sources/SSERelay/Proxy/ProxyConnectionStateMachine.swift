import NIOCore
import NIOHTTP1
import SSERelayCore

/// The HTTP/1.1 protocol state of one client connection: which request it serves, what each
/// request part is for, whether the connection may carry another request, and when it reads.
///
/// A value with no I/O and no clock: ``ProxyHandler`` feeds it the connection's events (request
/// parts, reads, the response's start and end, timers, quiesce, errors) and performs the
/// actions it returns. Every keep-alive decision of the relay is made here.
///
/// ```
///             head                      response ended, keep-alive
///    idle ──────────▶ exchanging ──────────────────────────────────▶ idle
///     │                 │     │ the upstream switched protocols (101)
///     │ header timeout, │     └───────────────────────────────────▶ tunnelling
///     │ quiesce,        │ response ended without keep-alive, an error,
///     │ malformed       │ the client left
///     ▼                 ▼
///   closing ◀───────────┘
/// ```
///
/// Pipelining: a request that arrives while the previous response is still going out is held,
/// in order, and reading pauses until it is served; the relay never works on two requests of
/// one connection at once (RFC 9112 §9.3.2 lets it answer them in order, one by one).
struct ProxyConnectionStateMachine {
    enum State {
        /// Waiting for a request head; `servedRequests` came before on this connection.
        case idle(servedRequests: Int)
        /// A request is being served.
        case exchanging(Exchange)
        /// The connection became a byte tunnel: HTTP is over.
        case tunnelling
        /// Closing or closed; what the client still sends is read and discarded.
        case closing
    }

    /// What the connection knows of the request in flight.
    struct Exchange {
        /// Which request of the connection this is, from 1.
        let number: Int
        /// The request's HTTP version, which its answers use.
        let version: HTTPVersion
        /// Whether the connection may carry another request after this one, as far as is known:
        /// the request's wish, narrowed by the response (its framing, `Connection: close`) and
        /// by a quiesce.
        var keepAlive: Bool
        /// Whether the request's `.end` was read.
        var requestEnded = false
        /// Whether the response head was written.
        var responseStarted = false
        /// Whether body parts are dropped rather than forwarded: a stream request has no body
        /// worth sending anywhere, only its end matters.
        var discardsBody = false
    }

    /// What the handler does for a request part, a timer or an error.
    enum Action {
        case none
        /// Pass a `read()` on to the channel.
        case read
        /// Serve a new request: plan it and start its exchange.
        case startExchange(HTTPRequestHead)
        /// Send a request body part on, to the upstream or the body buffer.
        case forwardBody(ByteBuffer)
        /// Send the request's end on.
        case forwardEnd(HTTPHeaders?)
        /// End the exchange in flight, if any, without completing it; answer `response` in
        /// `version` and close after it, lingering (the client may still be sending).
        case respondAndClose(ErrorResponse, version: HTTPVersion)
        /// End the exchange in flight, if any, without completing it, and close at once.
        case close
    }

    /// What the handler does once a response is complete.
    enum ResponseEnd: Equatable {
        /// The connection carries the next request: arm the idle timer, read when `readNow`
        /// (a read was held back for the exchange), and serve what was pipelined
        /// (``nextPipelinedAction()``).
        case keepOpen(readNow: Bool)
        /// Close after the response is flushed; `lingering` when the request was not read to
        /// its end, so unread bytes do not make the kernel reset the connection.
        case close(lingering: Bool)
    }

    private(set) var state = State.idle(servedRequests: 0)
    /// Whether the server asked connections to finish: the connection closes after the
    /// response in flight.
    private(set) var isQuiescing = false
    private var readGate = ReadGate()
    /// Parts of the next requests, read while a response was still going out. Starts with
    /// room for one and grows: few clients pipeline, and every open connection holds it.
    private var pipelined = CircularBuffer<HTTPServerRequestPart>(initialCapacity: 1)

    /// Whether the connection serves a request and has not written its response head yet.
    var isAwaitingResponse: Bool {
        if case .exchanging(let exchange) = self.state { return !exchange.responseStarted }
        return false
    }

    /// Whether the connection may stay open after the request in flight, as far as is known
    /// before its response starts.
    var mayKeepAlive: Bool {
        if case .exchanging(let exchange) = self.state { return exchange.keepAlive && !self.isQuiescing }
        return false
    }

    /// Whether the request in flight was read to its end.
    var requestEnded: Bool {
        if case .exchanging(let exchange) = self.state { return exchange.requestEnded }
        return false
    }

    // MARK: Reading

    /// A request part decoded from the client.
    mutating func requestPartReceived(_ part: HTTPServerRequestPart) -> Action {
        if case .exchanging(let exchange) = self.state, exchange.requestEnded {
            // The next request of a pipelining client: served after this response.
            self.pipelined.append(part)
            self.readGate.pause(.pipelined)
            return .none
        }
        return self.process(part)
    }

    /// The channel asks to read: whether to pass the `read()` on now. One held back is issued
    /// by a later action (``Action/read``) or ``resumeReading(_:)``.
    mutating func readRequested() -> Bool {
        if case .closing = self.state {
            // Lingering: what the client still sends is read and discarded.
            return true
        }
        return self.readGate.shouldRead()
    }

    /// Reading pauses until `reason` clears: the upstream is full or not attached yet.
    mutating func pauseReading(_ reason: ReadGate.Reasons) {
        self.readGate.pause(reason)
    }

    /// `reason` cleared; returns whether a held-back `read()` must be issued now.
    mutating func resumeReading(_ reason: ReadGate.Reasons) -> Bool {
        self.readGate.resume(reason)
    }

    // MARK: The exchange

    /// The request in flight is a stream request: its body is dropped, and an HTTP/1.0 client
    /// cannot keep the connection (its stream is delimited by the close).
    mutating func exchangeIsStream() {
        guard case .exchanging(var exchange) = self.state else { return }
        exchange.discardsBody = true
        if exchange.version == .http1_0 {
            exchange.keepAlive = false
        }
        self.state = .exchanging(exchange)
    }

    /// The response head is about to be written; returns whether the connection stays open
    /// after it, which the head must say (`Connection: close` otherwise).
    ///
    /// - Parameter canKeepAlive: Whether the response allows another request after it: not
    ///   when its body is delimited by the close, when the upstream declined an upgrade (the
    ///   client's parser stopped at the upgrade request), or when the head says `close`.
    mutating func responseWillStart(canKeepAlive: Bool) -> Bool {
        guard case .exchanging(var exchange) = self.state else { return false }
        exchange.responseStarted = true
        exchange.keepAlive = exchange.keepAlive && canKeepAlive && !self.isQuiescing
        self.state = .exchanging(exchange)
        return exchange.keepAlive
    }

    /// An answer of the relay's own is about to be written (an upstream failure, a refusal);
    /// returns whether the connection stays open after it. It does only when the request was
    /// read to its end: unread body bytes would otherwise be parsed as the next request.
    mutating func relayAnswerWillStart() -> Bool {
        self.responseWillStart(canKeepAlive: self.requestEnded)
    }

    /// The response is complete.
    mutating func responseEnded() -> ResponseEnd {
        guard case .exchanging(let exchange) = self.state else { return .close(lingering: false) }
        guard exchange.keepAlive, exchange.requestEnded, !self.isQuiescing else {
            self.state = .closing
            return .close(lingering: !exchange.requestEnded)
        }
        self.state = .idle(servedRequests: exchange.number)
        // Whatever paused reading was about this exchange, except the pipelined requests.
        return .keepOpen(readNow: self.readGate.resume([.peerUnwritable, .peerNotReady]))
    }

    /// After ``ResponseEnd/keepOpen``: the next thing to do for the requests read while the
    /// response went out, one part at a time, or `nil` when nothing is left to do now.
    /// Bounded: each call consumes a held part, or issues the one held-back read.
    mutating func nextPipelinedAction() -> Action? {
        switch self.state {
        case .idle:
            break
        case .exchanging(let exchange) where !exchange.requestEnded:
            break
        case .exchanging, .tunnelling, .closing:
            return nil
        }
        guard let part = self.pipelined.popFirst() else {
            return self.readGate.resume(.pipelined) ? .read : nil
        }
        return self.process(part)
    }

    /// The upstream switched protocols: the connection is a tunnel from now on.
    mutating func upgraded() {
        self.state = .tunnelling
    }

    /// The exchange must end before its response is complete (a refused request, a body too
    /// large or too slow, an upstream that failed mid-response, a dropped stream client): the
    /// client is answered `response` when no response started yet, else the connection is cut
    /// (the client sees the body end early).
    mutating func exchangeFailed(answering response: ErrorResponse?) -> Action {
        let responseStarted: Bool
        let version: HTTPVersion
        switch self.state {
        case .exchanging(let exchange):
            responseStarted = exchange.responseStarted
            version = exchange.version
        case .idle:
            responseStarted = false
            version = .http1_1
        case .tunnelling, .closing:
            return .none
        }
        self.state = .closing
        guard let response, !responseStarted else { return .close }
        return .respondAndClose(response, version: version)
    }

    // MARK: Connection events

    /// No request head arrived in time: `408` before the first request, a silent close for an
    /// idle keep-alive connection (nothing was asked, so nothing is owed).
    mutating func headerWaitExpired() -> Action {
        guard case .idle(let servedRequests) = self.state else { return .none }
        self.state = .closing
        guard servedRequests == 0 else { return .close }
        return .respondAndClose(
            ErrorResponse(status: .requestTimeout, message: "request header timeout"), version: .http1_1)
    }

    /// The server is shutting down: an idle connection closes now, a busy one after its response.
    mutating func quiesce() -> Action {
        self.isQuiescing = true
        guard case .idle = self.state else { return .none }
        self.state = .closing
        return .close
    }

    /// The request decoder failed with `response` to send: before or without a response, the
    /// client gets it; after the response started, or in a tunnel, the connection is cut.
    mutating func requestMalformed(answering response: ErrorResponse) -> Action {
        switch self.state {
        case .idle, .exchanging:
            return self.exchangeFailed(answering: response)
        case .tunnelling:
            self.state = .closing
            return .close
        case .closing:
            // The rest of a refused request, read while lingering: nothing to answer.
            return .none
        }
    }

    /// The connection closed; returns whether an exchange was in flight, which the handler
    /// ends (the client left before its response was complete).
    mutating func connectionClosed() -> Bool {
        defer { self.state = .closing }
        if case .exchanging = self.state { return true }
        return false
    }

    // MARK: Private

    private mutating func process(_ part: HTTPServerRequestPart) -> Action {
        switch self.state {
        case .idle(let servedRequests):
            guard case .head(let head) = part else {
                // Nothing else can follow the end of a request.
                return .none
            }
            self.state = .exchanging(
                Exchange(number: servedRequests + 1, version: head.version, keepAlive: Self.requestKeepsAlive(head)))
            return .startExchange(head)
        case .exchanging(var exchange):
            switch part {
            case .head:
                // The decoder never sends a head before the previous request's end.
                return .none
            case .body(let body):
                return exchange.discardsBody ? .none : .forwardBody(body)
            case .end(let trailers):
                exchange.requestEnded = true
                self.state = .exchanging(exchange)
                return exchange.discardsBody ? .none : .forwardEnd(trailers)
            }
        case .tunnelling, .closing:
            return .none
        }
    }

    /// Whether a request lets the connection carry another after it: its HTTP version's rule
    /// and `Connection` header, never after an upgrade request (its parser stops there), and
    /// never after an HTTP/1.0 message with `Transfer-Encoding`, whose framing is faulty
    /// (RFC 9112 §6.1).
    private static func requestKeepsAlive(_ head: HTTPRequestHead) -> Bool {
        let faultyFraming = head.version == .http1_0 && head.headers.contains(name: "transfer-encoding")
        return head.isKeepAlive && HopByHopHeaders.requestedUpgrade(in: head.headers) == nil && !faultyFraming
    }
}
