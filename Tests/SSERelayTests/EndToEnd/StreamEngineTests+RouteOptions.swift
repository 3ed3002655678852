import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// The per-route options that change what a client gets: `ids`, `joinFrom`, `keyIncludesQuery`,
/// and an HTTP/1.0 client.
extension StreamEngineTests {
    @Test("ids: relay replaces the upstream's ids, and those relay ids resume")
    func relayIDsMode() async throws {
        try await withRelay({ $0.streams[0].ids = .relay }) { relay in
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?events=4&interval=20&ids=1"
            let ids = try await SSETestStream.open(relay.address, path) { stream in
                [try await stream.nextEvent()?.lastID, try await stream.nextEvent()?.lastID]
            }
            let second = try #require(ids[1].flatMap(RelayEventID.init(parsing:)))
            #expect(second.sequence == 2)
            let rest = try await SSETestStream.open(
                relay.address, path, headers: [("Last-Event-ID", second.description)]
            ) {
                try await $0.readToEnd().filter { $0.data != nil }.map(\.data)
            }
            #expect(rest == self.expectedData(conversation, 3...4))
        }
    }

    @Test("joinFrom: live starts a joining client at the live end, with no gap after it")
    func joinLive() async throws {
        try await withRelay({ $0.streams[0].joinFrom = .live }) { relay in
            let conversation = self.newConversation()
            // Long enough that the second client always finds events still to come.
            let path = "/api/conversation/\(conversation)/stream?events=1000&interval=20&hold=1"
            try await SSETestStream.open(relay.address, path) { first in
                for _ in 0..<3 { _ = try await first.nextEvent() }
                let numbers = try await SSETestStream.open(relay.address, path) { second in
                    var numbers: [Int] = []
                    for _ in 0..<3 {
                        let data = try await second.nextEvent()?.data ?? ""
                        numbers.append(Int(data.split(separator: " ")[1]) ?? 0)
                    }
                    return numbers
                }
                #expect(numbers[0] > 3)
                #expect(numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2])
            }
        }
    }

    @Test("keyIncludesQuery: false lets requests with different queries share one upstream")
    func keyWithoutQuery() async throws {
        try await withRelay({ $0.streams[0].keyIncludesQuery = false }) { relay in
            let conversation = self.newConversation()
            let base = "/api/conversation/\(conversation)/stream?events=5&interval=20&hold=1"
            try await SSETestStream.open(relay.address, base + "&tab=1") { first in
                _ = try await first.nextEvent()
                let joined = try await SSETestStream.open(relay.address, base + "&tab=2") { second in
                    second.head.headers.first(name: "X-SSE-Relay")
                }
                #expect(joined == "joined")
            }
            #expect(try await self.stats(relay, conversation).starts == 1)
        }
    }

    @Test("an HTTP/1.0 client gets the stream unchunked, ended by the close")
    func http10Stream() async throws {
        try await withRelay { relay in
            let conversation = self.newConversation()
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write("GET /api/conversation/\(conversation)/stream?events=3 HTTP/1.0\r\n\r\n")
                let all = try await connection.readToEnd()
                #expect(all.hasPrefix("HTTP/1.0 200 OK\r\n"))
                #expect(!all.lowercased().contains("transfer-encoding"))
                for number in 1...3 {
                    #expect(all.contains("data: token \(number) of \(conversation)\n"))
                }
            }
        }
    }
}
