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
        try await withCheckedThrowingContinuation { continuation in
            // The wait for the announcement blocks a thread: not the test's cooperative pool.
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Self.startBlocking(targetPort: targetPort, cutAfter: cutAfter) })
            }
        }
    }

    /// The directory of the browser fixtures.
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/browser")

    private static func startBlocking(targetPort: Int, cutAfter: Int) throws -> CuttingProxy {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "node", Self.fixtures.appendingPathComponent("cutting-proxy.js").path, String(targetPort), String(cutAfter),
        ]
        let output = Pipe()
        process.standardOutput = output
        // The proxy exits when this pipe closes, which happens when the test process ends.
        process.standardInput = Pipe()
        try process.run()

        var announced = Data()
        // Bounded: the proxy prints one short line; EOF (the process died) ends the loop.
        while !announced.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            announced.append(chunk)
        }
        struct Announcement: Decodable { var port: Int }
        guard let line = announced.split(separator: UInt8(ascii: "\n")).first,
            let port = try? JSONDecoder().decode(Announcement.self, from: Data(line)).port
        else {
            process.terminate()
            throw FixtureError(
                "the cutting proxy did not announce its port: \(String(decoding: announced, as: UTF8.self))")
        }
        return CuttingProxy(address: try SocketAddress(ipAddress: "127.0.0.1", port: port), process: process)
    }

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

    func stop() {
        if self.process.isRunning {
            self.process.terminate()
            self.process.waitUntilExit()
        }
    }

    deinit {
        self.stop()
    }
}
