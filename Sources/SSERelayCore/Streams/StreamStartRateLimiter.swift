/// How often one client address may make the relay start a new generation: a token bucket per
/// address, refilled at `perMinute / 60` tokens a second up to `burst`.
///
/// Starting a generation is what costs the backend money (a completion), so it is what a
/// client's rate is measured on; joins and resumes are free. The table of addresses is bounded:
/// at `maximumClients` the addresses whose buckets are full again are forgotten (a full bucket
/// is what a new address gets anyway), and if none is, the next address is not tracked, which
/// admits it as a new address would be.
public struct StreamStartRateLimiter: Sendable {
    /// The answer for one start.
    public enum Decision: Sendable, Hashable {
        case allowed
        /// Over the rate: try again after this many whole seconds (for `Retry-After`).
        case limited(retryAfterSeconds: Int)
    }

    private struct Bucket: Sendable {
        var tokens: Double
        var updatedAt: UInt64
    }

    /// Tokens added per nanosecond.
    private let refillPerNanosecond: Double
    private let burst: Double
    /// The most addresses tracked at once.
    public let maximumClients: Int
    private var buckets: [String: Bucket] = [:]

    /// - Parameters:
    ///   - perMinute: Starts allowed per minute and address, sustained; `0` turns the limit off.
    ///   - burst: Starts allowed at once (the bucket's size).
    ///   - maximumClients: The most addresses tracked at once.
    public init(perMinute: Int, burst: Int, maximumClients: Int = 65_536) {
        self.refillPerNanosecond = Double(perMinute) / 60e9
        self.burst = Double(max(1, burst))
        self.maximumClients = maximumClients
    }

    /// Whether the limit is on.
    public var isEnabled: Bool { self.refillPerNanosecond > 0 }

    /// Addresses tracked now.
    public var trackedClients: Int { self.buckets.count }

    /// Takes one start from `client`'s bucket at `now` (nanoseconds of a monotonic clock).
    public mutating func admit(_ client: String, now: UInt64) -> Decision {
        guard self.isEnabled else { return .allowed }
        var bucket = self.buckets[client] ?? Bucket(tokens: self.burst, updatedAt: now)
        let elapsed = Double(now &- min(now, bucket.updatedAt))
        bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.refillPerNanosecond)
        bucket.updatedAt = now
        guard bucket.tokens >= 1 else {
            self.buckets[client] = bucket
            let wait = (1 - bucket.tokens) / self.refillPerNanosecond / 1e9
            return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
        bucket.tokens -= 1
        if self.buckets[client] == nil, self.buckets.count >= self.maximumClients {
            self.forgetRefilledClients(now: now)
            guard self.buckets.count < self.maximumClients else { return .allowed }
        }
        self.buckets[client] = bucket
        return .allowed
    }

    /// Drops every address whose bucket is full again at `now`. Linear in the addresses, and
    /// only run when the table is full, so at most once per `maximumClients` new addresses when
    /// it frees any.
    private mutating func forgetRefilledClients(now: UInt64) {
        self.buckets = self.buckets.filter { _, bucket in
            let elapsed = Double(now &- min(now, bucket.updatedAt))
            return bucket.tokens + elapsed * self.refillPerNanosecond < self.burst
        }
    }
}
