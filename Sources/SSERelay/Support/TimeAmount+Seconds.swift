import NIOCore

extension TimeAmount {
    /// A duration given in seconds with a fraction, as the configuration states them.
    static func fractionalSeconds(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64((seconds * 1_000_000_000).rounded()))
    }
}
