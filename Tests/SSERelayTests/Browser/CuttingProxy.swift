import Foundation
import NIOCore
import NIOHTTP1

/// `Fixtures/browser/cutting-proxy.js` running as a real process: the origin the browser sees.
/// It serves the test pages and pipes everything else to `target`, cutting each connection
/// after a few SSE events, as a flaky network does.
final class CuttingProxy: Sendable {
    /// What the proxy counted on the connections it piped.
    struct Stats: Decodable {
        var connections: Int
        var cuts: Int
        /// Responses seen per status code (`"200"`, `"204"`).
        var statuses: [String: Int]
    }

    let address: SocketAddress
    private let process: Process

    private init(address: SocketAddress, process: Process) {
        self.address = address
        self.process = process
    }

    /// Starts the proxy in front of 127.0.0.1:`targetPort`; it cuts a connection once
    /// `cutAfter` events with data came back on it.
    static func start(targetPort: Int, cutAfter: Int = 3) async throws -> CuttingProxy {
        let fixture = try await NodeFixture.launch(
            Self.fixtures.appendingPathComponent("cutting-proxy.js"), arguments: [String(targetPort), String(cutAfter)])
        return CuttingProxy(
            address: try SocketAddress(ipAddress: "127.0.0.1", port: fixture.port), process: fixture.process)
    }

    /// The directory of the browser fixtures.
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/browser")

    /// The URL of `path` (which starts with `/`) on the proxy.
    func url(_ path: String) throws -> String {
        guard let port = self.address.port else { throw FixtureError("the cutting proxy has no port") }
        return "http://127.0.0.1:\(port)\(path)"
    }

    /// The proxy's counters, from its `/browser/stats` page.
    func stats() async throws -> Stats {
        let response = try await fetch(self.address, .GET, "/browser/stats")
        return try JSONDecoder().decode(Stats.self, from: Data(response.body.readableBytesView))
    }

    /// Asks the proxy to exit; returns at once (see ``ProcessExit`` for why it does not wait).
    func stop() {
        if self.process.isRunning {
            self.process.terminate()
        }
    }

    deinit {
        self.stop()
    }
}
