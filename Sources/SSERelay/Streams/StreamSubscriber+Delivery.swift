import NIOCore
import SSERelayCore

extension StreamSubscriber {
    /// What one write pass delivered, counted into the metrics once at its end.
    struct Delivery {
        var events = 0
        var replayed = 0
        /// When the newest live event written was read from the upstream.
        var newestLiveReceivedAt: NIODeadline?

        mutating func wrote(_ entry: ReplayBuffer.Entry, joinedAt: NIODeadline) {
            self.events += 1
            if entry.receivedAt < joinedAt {
                self.replayed += 1
            } else {
                self.newestLiveReceivedAt = entry.receivedAt
            }
        }

        func record(into metrics: RelayMetrics) {
            guard self.events > 0 else { return }
            let latency = self.newestLiveReceivedAt.map { receivedAt in
                Duration.nanoseconds((NIODeadline.now() - receivedAt).nanoseconds)
            }
            metrics.recordDelivery(events: self.events, replayed: self.replayed, latency: latency)
        }
    }
}
