/// A generation as ``StreamRequestResolution`` reads it: its token, whether its upstream is
/// open, and its replay buffer, taken together (the relay takes it under the generation's
/// lock; the buffer is a value, so the snapshot never changes after).
public struct GenerationSnapshot: ResumableGeneration, Sendable {
    public let token: String
    public let isUpstreamOpen: Bool
    public let hasFailed: Bool
    public let log: ReplayBuffer

    public init(token: String, isUpstreamOpen: Bool, hasFailed: Bool = false, log: ReplayBuffer) {
        self.token = token
        self.isUpstreamOpen = isUpstreamOpen
        self.hasFailed = hasFailed
        self.log = log
    }

    public var firstSequence: Int { self.log.firstSequence }
    public var nextSequence: Int { self.log.nextSequence }
    public func sequence(ofID id: String) -> Int? { self.log.sequence(ofID: id) }
}
