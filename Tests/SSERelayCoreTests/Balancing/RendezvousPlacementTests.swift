import Testing

@testable import SSERelayCore

@Suite("RendezvousPlacement")
struct RendezvousPlacementTests {
    /// A server as the placement sees it.
    struct Server: Hashable {
        var name: String
        var weight: Int
        var hash: UInt64 { RendezvousPlacement.stableHash(self.name.utf8) }
    }

    private static func place(_ key: UInt64, on servers: [Server]) -> Server {
        servers.max {
            RendezvousPlacement.score(keyHash: key, serverHash: $0.hash, weight: $0.weight)
                < RendezvousPlacement.score(keyHash: key, serverHash: $1.hash, weight: $1.weight)
        }!
    }

    private static let three = [
        Server(name: "10.0.0.1:3000", weight: 1), Server(name: "10.0.0.2:3000", weight: 1),
        Server(name: "10.0.0.3:3000", weight: 1),
    ]

    private static func keys(_ count: Int) -> [UInt64] {
        (0..<count).map { RendezvousPlacement.stableHash("conversation-\($0)".utf8) }
    }

    @Test("the stable hash is FNV-1a 64: the published vectors, and the same in every process")
    func fnvVectors() {
        #expect(RendezvousPlacement.stableHash([UInt8]()) == 0xCBF2_9CE4_8422_2325)
        #expect(RendezvousPlacement.stableHash("a".utf8) == 0xAF63_DC4C_8601_EC8C)
        #expect(RendezvousPlacement.stableHash("foobar".utf8) == 0x8594_4171_F739_67E8)
    }

    @Test("scores are positive and finite for every key bit pattern at the edges")
    func scoresFinite() {
        for key: UInt64 in [0, 1, .max, .max - 1, 1 << 63] {
            for server in Self.three {
                let score = RendezvousPlacement.score(keyHash: key, serverHash: server.hash, weight: 100)
                #expect(score.isFinite && score > 0)
            }
        }
    }

    @Test("equal weights share 30,000 keys evenly (each within 3 % of a third)")
    func evenShare() {
        var counts: [Server: Int] = [:]
        for key in Self.keys(30_000) { counts[Self.place(key, on: Self.three), default: 0] += 1 }
        for server in Self.three {
            #expect(abs(counts[server, default: 0] - 10_000) < 900, "\(counts)")
        }
    }

    @Test("weights 1, 2, 5 get their shares of 40,000 keys (each within 3 %)")
    func weightedShare() {
        let servers = [
            Server(name: "a:1", weight: 1), Server(name: "b:1", weight: 2), Server(name: "c:1", weight: 5),
        ]
        var counts: [Server: Int] = [:]
        for key in Self.keys(40_000) { counts[Self.place(key, on: servers), default: 0] += 1 }
        for server in servers {
            let expected = 40_000 * server.weight / 8
            #expect(abs(counts[server, default: 0] - expected) < expected * 3 / 100 + 300, "\(counts)")
        }
    }

    @Test("a server that leaves moves only its own keys; one that joins takes keys only for itself")
    func minimalDisruption() {
        let keys = Self.keys(10_000)
        let before = keys.map { Self.place($0, on: Self.three) }
        let leaving = Self.three[1]
        let remaining = Self.three.filter { $0 != leaving }
        var moved = 0
        for (key, server) in zip(keys, before) {
            let after = Self.place(key, on: remaining)
            if server != leaving {
                #expect(after == server, "a key of a server that stayed moved")
            } else {
                moved += 1
            }
        }
        #expect(moved > 2_500 && moved < 4_200, "the leaving server's third moved: \(moved)")
        let joined = Self.three + [Server(name: "10.0.0.4:3000", weight: 1)]
        for (key, server) in zip(keys, before) {
            let after = Self.place(key, on: joined)
            #expect(after == server || after == joined[3])
        }
    }

    @Test("placement does not depend on the order servers are listed in")
    func orderIndependent() {
        let reversed = Array(Self.three.reversed())
        for key in Self.keys(2_000) {
            #expect(Self.place(key, on: Self.three) == Self.place(key, on: reversed))
        }
    }

    @Test("the placement hash of a stream key covers its route, parameters, query and header digest")
    func keyHash() {
        let key = StreamKey(
            route: "/c/:id/stream", parameters: [.init(name: "id", value: "1")], query: "", varyDigest: "d")
        var sameKey = key
        sameKey.shownQuery = "anything shown"
        #expect(key.placementHash == sameKey.placementHash, "what is only shown is not part of the hash")
        var changes: [StreamKey] = []
        var other = key
        other.route = "/d/:id/stream"
        changes.append(other)
        other = key
        other.parameters = [.init(name: "id", value: "2")]
        changes.append(other)
        other = key
        other.query = "a=1"
        changes.append(other)
        other = key
        other.varyDigest = "e"
        changes.append(other)
        // A value moved across the parameter's name and value boundary is another key.
        other = key
        other.parameters = [.init(name: "i", value: "d1")]
        changes.append(other)
        for changed in changes {
            #expect(changed.placementHash != key.placementHash, "\(changed)")
        }
    }
}
