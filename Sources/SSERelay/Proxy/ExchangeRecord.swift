import NIOCore
import NIOHTTP1

/// What the access log line and `requests_total` say of one exchange, filled in as it goes.
struct ExchangeRecord {
    /// When the request head arrived.
    let startTime: NIODeadline
    /// What kind of request this is, for the `requests_total` metric.
    var kind = RelayMetrics.RequestKind.passthrough
    /// The status sent to the client, once the response head was written.
    var status: HTTPResponseStatus?
    /// Body bytes written to the client.
    var bytesSent = 0
    /// When the upstream's response head arrived.
    var upstreamHeadTime: NIODeadline?
    /// How the exchange ended, unless it ends by the connection's fate (a closed client).
    var outcome = ExchangeOutcome.completed

    init(startTime: NIODeadline) {
        self.startTime = startTime
    }
}
