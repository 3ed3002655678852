public import NIOHTTP1

/// What the relay does with a request, decided from its head alone before any I/O: refuse it,
/// serve it from the stream engine, or pass it through to the upstream.
///
/// One pure function, so the proxy and the request-head fuzzer run the very same decision.
/// The order matters and is the relay's contract:
/// 1. A head the relay must not forward (conflicting framing, a smuggling-prone shape) is
///    refused, whatever its path.
/// 2. A `GET` without `Upgrade` whose normalised path matches a stream route is a stream
///    request, on the first route that matches (routes are tried in configuration order).
/// 3. Everything else is passed through, with the protocol the client asked to switch to.
public enum RequestPlan: Sendable {
    /// Refused with `status`; `reason` says what was wrong, for the log and the answer.
    case reject(status: HTTPResponseStatus, reason: String)
    /// Served by the stream engine under `key`; the upstream is asked for `target`'s
    /// normalised form (``RequestTarget/upstreamTarget``) when a generation starts.
    case stream(route: StreamRouteConfiguration, key: StreamKey, target: RequestTarget)
    /// Proxied as it is; `upgrade` is the protocol the client asked to switch to, if any.
    case passThrough(upgrade: String?)

    /// The plan for `head` under the stream routes `routes`.
    ///
    /// - Parameter redaction: What of the query a stream key may show (`/streams`, logs).
    public init(for head: HTTPRequestHead, routes: [StreamRouteConfiguration], redaction: QueryRedaction) {
        if let (status, reason) = ProxyHeaderPolicy.rejection(of: head) {
            self = .reject(status: status, reason: reason)
            return
        }
        let upgrade = HopByHopHeaders.requestedUpgrade(in: head.headers)
        if head.method == .GET, upgrade == nil, !routes.isEmpty {
            let target = RequestTarget(normalizing: head.uri)
            for route in routes {
                if let key = StreamKey(route: route, target: target, headers: head.headers, redaction: redaction) {
                    self = .stream(route: route, key: key, target: target)
                    return
                }
            }
        }
        self = .passThrough(upgrade: upgrade)
    }
}
