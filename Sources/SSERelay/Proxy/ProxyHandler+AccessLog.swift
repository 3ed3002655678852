import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

extension ProxyHandler {
    /// Counts a finished exchange in `requests_total` and writes its one `request` line at
    /// `info` (README, "Logging").
    func recordCompletion(_ exchange: ProxyExchange, outcome: ExchangeOutcome) {
        let record = exchange.record
        self.registry.metrics.recordRequest(
            kind: exchange.isUpgrading ? .upgrade : record.kind, status: record.status?.code ?? 0)
        guard self.logger.logLevel <= .info else { return }
        let now = NIODeadline.now()
        var metadata: Logger.Metadata = [
            "method": "\(exchange.request.method.rawValue)",
            "path": "\(self.shownTarget(of: exchange))",
            "status": .stringConvertible(Int(record.status?.code ?? 0)),
            "bytes": .stringConvertible(record.bytesSent),
            "duration_ms": .stringConvertible(Self.milliseconds(now - record.startTime)),
            "client": "\(self.clientAddress ?? "-")",
        ]
        if let upstreamHeadTime = record.upstreamHeadTime {
            metadata["upstream_ms"] = .stringConvertible(Self.milliseconds(upstreamHeadTime - record.startTime))
        }
        if outcome != .completed {
            metadata["outcome"] = "\(outcome)"
        }
        self.logger.info("request", metadata: metadata)
    }

    /// The request target as logs show it: credential-like query parameters redacted.
    func shownTarget(of exchange: ProxyExchange) -> String {
        self.settings.queryRedaction.redacting(target: exchange.request.uri)
    }

    private static func milliseconds(_ amount: TimeAmount) -> Double {
        (Double(amount.nanoseconds) / 10_000).rounded() / 100
    }
}
