import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SSERelayCore
import Testing

/// The relay as a daemon (issue 5, SPEC §6): reload on SIGHUP and the drain on SIGTERM, on the
/// real binary with real signals.
@Suite("Daemon lifecycle", .timeLimit(.minutes(1)))
struct DaemonLifecycleTests {
    private func configuration(backend: BackendProcess, retryMs: Int, extraRoute: String? = nil) -> String {
        let extra = extraRoute.map { #", {"path": "\#($0)"}"# } ?? ""
        return #"""
            {"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"},
             "upstream": "http://127.0.0.1:\#(backend.port)",
             "streams": [{"path": "/api/conversation/:conversationId/stream", "retryMs": \#(retryMs)}\#(extra)]}
            """#
    }

    private func conversation() -> String { "d-\(UUID().uuidString.prefix(8))" }

    @Test("SIGHUP changing retryMs and adding a route: new requests see both, an open stream is untouched")
    func reload() async throws {
        let backend = try await BackendProcess.shared
        let file = try TemporaryFile(self.configuration(backend: backend, retryMs: 2000))
        let relay = try RelayProcess(arguments: ["--config", file.path])
        defer { relay.stop() }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.listeningPort())

        let open = self.conversation()
        let openPath = "/api/conversation/\(open)/stream?events=40&interval=20&hold=1"
        try await SSETestStream.open(address, openPath) { stream in
            #expect(try await stream.nextBlock()?.retry == 2000)
            #expect(try await stream.nextEvent()?.data == "token 1 of \(open)")
            let before = try await fetch(address, .GET, "/sse")
            #expect(before.header("X-SSE-Relay") == nil)

            let logged = relay.logText.count
            try file.write(self.configuration(backend: backend, retryMs: 5000, extraRoute: "/sse"))
            relay.signal(SIGHUP)
            try await relay.waitForLog("configuration reloaded", after: logged)

            let fresh = self.conversation()
            let retry = try await SSETestStream.open(address, "/api/conversation/\(fresh)/stream?events=1") {
                try await $0.nextBlock()?.retry
            }
            #expect(retry == 5000)
            let after = try await SSETestStream.open(address, "/sse") { $0.head.headers.first(name: "X-SSE-Relay") }
            #expect(after == "started")

            // The open stream goes on where it was: the next events, no gap, no second start.
            for number in 2...5 {
                #expect(try await stream.nextEvent()?.data == "token \(number) of \(open)")
            }
        }
        let stats = try await fetch(
            try SocketAddress(ipAddress: "127.0.0.1", port: backend.port), .GET,
            "/api/conversation/\(open)/stats")
        #expect(stats.text.contains(#""starts":1"#))
    }

    @Test("an invalid file on SIGHUP is rejected with the key path and the running configuration stays")
    func invalidReload() async throws {
        let backend = try await BackendProcess.shared
        let file = try TemporaryFile(self.configuration(backend: backend, retryMs: 2000))
        let relay = try RelayProcess(arguments: ["--config", file.path])
        defer { relay.stop() }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.listeningPort())

        let logged = relay.logText.count
        try file.write(#"{"streams": [{"path": "/x/:id", "retryMs": -5}]}"#)
        relay.signal(SIGHUP)
        try await relay.waitForLog("configuration reload failed", after: logged)
        #expect(relay.logText.contains("streams[0].retryMs"))

        let retry = try await SSETestStream.open(address, "/api/conversation/\(self.conversation())/stream?events=1") {
            try await $0.nextBlock()?.retry
        }
        #expect(retry == 2000)
    }

    @Test(
        "SIGTERM while a generation streams: its client gets every event and a clean end, new connections are refused, exit 0"
    )
    func drainOnSIGTERM() async throws {
        let backend = try await BackendProcess.shared
        let relay = try RelayProcess(arguments: [
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(backend.port)",
        ])
        defer { relay.stop() }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.listeningPort())
        let conversation = self.conversation()
        let started = ContinuousClock.now

        let data = try await SSETestStream.open(
            address, "/api/conversation/\(conversation)/stream?events=15&interval=40"
        ) { stream in
            var data: [String?] = []
            for _ in 0..<2 { data.append(try await stream.nextEvent()?.data) }
            relay.signal(SIGTERM)
            try await relay.waitForLog("shutting down")
            await #expect(throws: (any Error).self) { try await fetch(address, .GET, "/hello") }
            // `readToEnd` returns only at the response's end; a cut connection throws.
            data += try await stream.readToEnd().filter { $0.data != nil }.map(\.data)
            return data
        }
        #expect(data == (1...15).map { "token \($0) of \(conversation)" })
        #expect(await relay.waitForExit() == 0)
        #expect(ContinuousClock.now - started < .seconds(30))
    }
}

extension DaemonLifecycleTests {
    @Test(
        "socket activation: the relay serves on the listening socket systemd passes",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate")))
    func socketActivation() async throws {
        let backend = try await BackendProcess.shared
        // A port that was free a moment ago; systemd-socket-activate binds it and passes it on.
        let port = try await freePort()
        let relay = try RelayProcess(
            arguments: [
                "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(backend.port)",
            ],
            launcher: ["/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:\(port)"]
        )
        defer { relay.stop() }
        try await relay.waitForLog("Listening on 127.0.0.1:\(port)")
        // The first connection makes the launcher exec the relay, which adopts the socket and
        // accepts this very connection from its backlog.
        let response = try await fetch(try SocketAddress(ipAddress: "127.0.0.1", port: port), .GET, "/hello")
        #expect(response.status == .ok)
        #expect(response.text == "hello world")
        #expect(try await relay.listeningPort() == port)
        #expect(relay.logText.contains(#""socket_activated":"true""#))
        relay.signal(SIGTERM)
        #expect(await relay.waitForExit() == 0)
    }
}

/// A TCP port on 127.0.0.1 that nothing listened on when this returned.
func freePort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port
    try await channel.close()
    guard let port else { throw FixtureError("no port") }
    return port
}

/// A file in the temporary directory, removed when the value goes away.
final class TemporaryFile {
    let path: String

    init(_ contents: String) throws {
        self.path =
            FileManager.default.temporaryDirectory.appendingPathComponent("sse-relay-\(UUID().uuidString).json")
            .path
        try self.write(contents)
    }

    func write(_ contents: String) throws {
        try contents.write(toFile: self.path, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}
