/// How an exchange ended, in one vocabulary for the access log's `outcome` field and the
/// metrics: the stream outcomes are the `stream_requests_total` metric's own values.
enum ExchangeOutcome: Equatable, CustomStringConvertible {
    /// A complete response (the access log leaves `outcome` out).
    case completed
    /// A stream request, by how it was served; `replayMiss` when its `Last-Event-ID` matched
    /// nothing retained.
    case stream(RelayMetrics.StreamOutcome, replayMiss: Bool = false)
    /// The client closed the connection before its response was complete.
    case clientClosed
    /// A stream client dropped for falling too far behind.
    case dropped
    /// The connection became a tunnel.
    case upgraded
    /// The request body was refused (too large, too slow) after the response started.
    case requestBodyRefused
    /// The upstream failed after the response started; `reason` is ``UpstreamError/reason``.
    case upstreamFailed(reason: String)

    var description: String {
        switch self {
        case .completed: "ok"
        case .stream(let outcome, let replayMiss): replayMiss ? "\(outcome.rawValue)_replay_miss" : outcome.rawValue
        case .clientClosed: "client_closed"
        case .dropped: "dropped"
        case .upgraded: "upgraded"
        case .requestBodyRefused: "request_body_refused"
        case .upstreamFailed(let reason): reason
        }
    }
}
