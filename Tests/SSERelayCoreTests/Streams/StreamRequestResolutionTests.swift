import NIOCore
import Testing

@testable import SSERelayCore

/// The decision table of a stream request, row by row (see `ResolutionCase.swift`), and the
/// properties every row must have.
@Suite("StreamRequestResolution")
struct StreamRequestResolutionTests {
    @Test("Every row of the resolution table and its edges", arguments: resolutionCases)
    func resolves(_ row: ResolutionCase) {
        let resolution = StreamRequestResolution.resolve(
            lastEventID: row.lastEventID, generations: row.generations, joinFrom: row.joinFrom,
            afterFailure: row.afterFailure)
        #expect(resolution == row.expected)
    }

    @Test("An empty Last-Event-ID resolves exactly as an absent one", arguments: resolutionCases)
    func emptyIDIsAbsent(_ row: ResolutionCase) {
        let absent = StreamRequestResolution.resolve(
            lastEventID: nil, generations: row.generations, joinFrom: row.joinFrom, afterFailure: row.afterFailure)
        let empty = StreamRequestResolution.resolve(
            lastEventID: "", generations: row.generations, joinFrom: row.joinFrom, afterFailure: row.afterFailure)
        #expect(empty == absent)
        #expect(!absent.isReplayMiss)
    }

    @Test("A relay id never comes back as a forwarded upstream id", arguments: resolutionCases)
    func relayIDsAreNeverForwarded(_ row: ResolutionCase) {
        // The backend never gave out a relay id, so forwarding one could only confuse it. Every
        // row is tried with every relay id a client could send about its generations, the
        // row's own id among them when it is one.
        let relayIDs = row.relayIDs
        #expect(relayIDs.count >= 4)
        for id in relayIDs {
            let resolution = StreamRequestResolution.resolve(
                lastEventID: id, generations: row.generations, joinFrom: row.joinFrom, afterFailure: row.afterFailure)
            #expect(resolution.forwardedLastEventID == nil, "\(id) was forwarded")
        }
        if let id = row.lastEventID, RelayEventID(parsing: id) != nil {
            #expect(relayIDs.contains(id))
            #expect(row.expected.forwardedLastEventID == nil, "the table forwards \(id)")
        }
    }

    @Test("Every relay id of a retained ended generation resumes after it, and its last one gets 204")
    func everyPositionOfAnEndedGeneration() {
        let generation = FakeGeneration.ended(tokenA, first: 3, next: 8)
        for sequence in 2...6 {
            let resolution = StreamRequestResolution.resolve(
                lastEventID: "\(tokenA)-\(sequence)", generations: [generation], joinFrom: .start)
            #expect(resolution == .resume(token: tokenA, cursor: sequence + 1), "after \(sequence)")
        }
        #expect(
            StreamRequestResolution.resolve(lastEventID: "\(tokenA)-7", generations: [generation], joinFrom: .start)
                == .noContent)
        for sequence in [0, 1, 8, 9] {
            let resolution = StreamRequestResolution.resolve(
                lastEventID: "\(tokenA)-\(sequence)", generations: [generation], joinFrom: .start)
            #expect(resolution == .start(forwardedLastEventID: nil, replayMiss: true), "after \(sequence)")
        }
    }

    @Test("Resolution reads the ids of a real replay buffer")
    func readsAReplayBuffer() {
        var buffer = ReplayBuffer(maxEvents: 3, maxBytes: 1 << 20)
        for index in 1...5 {
            buffer.append(id: "up-\(index)", bytes: ByteBuffer(string: "id: up-\(index)\ndata: x\n\n"))
        }
        var ids: [String: Int] = [:]
        for index in 1...5 {
            ids["up-\(index)"] = buffer.sequence(ofID: "up-\(index)")
        }
        let generation = FakeGeneration.ended(
            tokenA, first: buffer.firstSequence, next: buffer.nextSequence, ids: ids)
        #expect(generation.firstSequence == 3)
        #expect(
            StreamRequestResolution.resolve(lastEventID: "up-3", generations: [generation], joinFrom: .start)
                == .resume(token: tokenA, cursor: 4))
        #expect(
            StreamRequestResolution.resolve(lastEventID: "up-5", generations: [generation], joinFrom: .start)
                == .noContent)
        // Evicted upstream ids are no longer known: forwarded to the backend, which may know them.
        #expect(
            StreamRequestResolution.resolve(lastEventID: "up-1", generations: [generation], joinFrom: .start)
                == .start(forwardedLastEventID: "up-1", replayMiss: false))
    }

    @Test(
        "An upstream id shaped like a relay id resumes where it is buffered: any id is looked up among the upstream ids too"
    )
    func upstreamIDShapedLikeARelayID() {
        // An upstream that itself gives relay-shaped ids (another sse-relay in front of the
        // backend, with `ids: "auto"` here) has them buffered as upstream ids.
        let upstreamID = "\(unknownToken)-4"
        let generation = FakeGeneration.ended(tokenA, next: 6, ids: [upstreamID: 2])
        #expect(
            StreamRequestResolution.resolve(lastEventID: upstreamID, generations: [generation], joinFrom: .start)
                == .resume(token: tokenA, cursor: 3))
    }
}

extension ResolutionCase {
    /// The relay ids a client could send to this row's key: the row's own (when it is one), ids
    /// and markers of a generation the key does not hold, and for each held generation its priming id,
    /// the edges of its retained events, ids past its head, and its end and failure markers.
    var relayIDs: [String] {
        let unknown = RelayEventID(generation: unknownToken, sequence: 1)
        var ids = ["\(unknownToken)-0", unknown.description, unknown.endMarker, unknown.failureMarker]
        if let id = self.lastEventID, RelayEventID(parsing: id) != nil {
            ids.append(id)
        }
        for generation in self.generations {
            let sequences = [
                0, generation.firstSequence - 1, generation.firstSequence, generation.nextSequence - 1,
                generation.nextSequence, generation.nextSequence + 1,
            ]
            for sequence in Set(sequences.filter { $0 >= 0 }).sorted() {
                ids.append("\(generation.token)-\(sequence)")
            }
            let last = RelayEventID(generation: generation.token, sequence: max(0, generation.nextSequence - 1))
            ids += [last.endMarker, last.failureMarker]
        }
        return ids
    }
}

extension StreamRequestResolution {
    fileprivate var isReplayMiss: Bool {
        switch self {
        case .join(_, _, let replayMiss), .start(_, let replayMiss): replayMiss
        case .resume, .noContent: false
        }
    }

    fileprivate var forwardedLastEventID: String? {
        if case .start(let forwarded, _) = self { forwarded } else { nil }
    }
}
