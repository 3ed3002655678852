import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// Event framing through the relay: what a browser dispatches is what the upstream sent.
extension StreamEngineTests {
    static let trickyStreams: [String] = [
        "\u{FEFF}data: after a BOM\n\n",
        "data: crlf\r\ndata: second\r\n\r\n",
        "data: cr only\rdata: more\r\r",
        "data:no space\n\ndata:  two spaces\n\n",
        "event: custom\ndata: typed\n\n",
        ": comment\ndata: after comment\n: between\ndata: and more\n\n",
        "data\n\ndata:\n\n",
        "unknown: field\ndata: kept\n\n",
        "id: up-1\ndata: with id\n\nid\ndata: empty id\n\n",
        "retry: 100\ndata: retry dropped\n\n",
        "data: unterminated at the end",
        "data: ünïcödé ✓\n\n",
    ]

    @Test("tricky frames through the relay parse to the same events as directly (ids aside)", arguments: trickyStreams)
    func trickyFrames(stream: String) async throws {
        try await withRelay { relay in
            let raw = Data(stream.utf8).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            let conversation = self.newConversation()
            let path = "/api/conversation/\(conversation)/stream?raw=\(raw)&chunk=3"
            func events(_ address: SocketAddress) async throws -> [[String]] {
                try await SSETestStream.open(address, path) { stream in
                    try await stream.readToEnd().filter { $0.data != nil }.map { event in
                        // What a browser dispatches: type and data (ids are the relay's to change).
                        [event.type ?? "message", event.data ?? ""]
                    }
                }
            }
            let direct = try await events(relay.backendAddress)
            let relayed = try await events(relay.address)
            #expect(relayed == direct)
        }
    }
}
