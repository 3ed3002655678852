import Testing

@testable import SSERelayCore

/// A generation as ``StreamRequestResolution`` sees it, without a replay buffer behind it.
struct FakeGeneration: ResumableGeneration, Sendable {
    var token: String
    var isUpstreamOpen: Bool
    var hasFailed = false
    var firstSequence: Int
    var nextSequence: Int
    /// Retained events by id (relay or upstream), as `ReplayBuffer.sequence(ofID:)` answers.
    var ids: [String: Int] = [:]

    func sequence(ofID id: String) -> Int? {
        self.ids[id]
    }

    static func open(_ token: String, first: Int = 1, next: Int, ids: [String: Int] = [:]) -> Self {
        Self(token: token, isUpstreamOpen: true, firstSequence: first, nextSequence: next, ids: ids)
    }

    static func ended(_ token: String, first: Int = 1, next: Int, ids: [String: Int] = [:]) -> Self {
        Self(token: token, isUpstreamOpen: false, firstSequence: first, nextSequence: next, ids: ids)
    }

    static func failed(_ token: String, first: Int = 1, next: Int, ids: [String: Int] = [:]) -> Self {
        Self(
            token: token, isUpstreamOpen: false, hasFailed: true, firstSequence: first, nextSequence: next, ids: ids)
    }
}
