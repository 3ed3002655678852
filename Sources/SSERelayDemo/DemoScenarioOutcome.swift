/// What the demo's scenario observed, from its clients and from the demo backend (never from
/// the relay's own counters).
public struct DemoScenarioOutcome: Sendable, Equatable {
    /// Completions the demo backend started for the conversation: what each request would cost
    /// without the relay.
    public var upstreamStreams: Int
    /// The stream requests the tabs sent.
    public var requests: Int
    /// Each tab's transcript (`A`, `B`), duplicates included.
    public var transcripts: [String: [String]]
    /// Each tab's answers in order: the relay's `X-SSE-Relay` verdict (`started`, `joined`,
    /// `resumed`) for a stream, the status code (`204`) otherwise.
    public var answers: [String: [String]]
}
