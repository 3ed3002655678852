import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SSERelayCore
import Testing

@testable import SSERelay

#if canImport(Glibc)
    import Glibc
#endif

/// The relay as a daemon, as systemd runs it: reload on SIGHUP and the drain on SIGTERM, on the
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
    /// In process rather than through `systemd-socket-activate`: that launcher closes every
    /// descriptor it does not pass on, including the one Foundation watches its child through,
    /// which leaves Foundation blocked reaping that child and stalls every other test's
    /// processes. The launcher was checked by hand (README, "Run under systemd").
    @Test("socket activation: the relay serves on a listening socket it inherits")
    func socketActivation() async throws {
        let port = try await freePort()
        let descriptor = try listeningSocket(port: port)
        let backend = try await BackendProcess.shared
        var configuration = RelayConfiguration()
        configuration.listen = HostAndPort(host: "127.0.0.1", port: 1)  // not bound: the socket is used
        configuration.upstream.url = UpstreamURL(host: "127.0.0.1", port: backend.port)
        let server = try await ProxyServer.bind(
            configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            listener: .inherited(descriptor: descriptor))
        let response = await Result {
            try await fetch(try SocketAddress(ipAddress: "127.0.0.1", port: port), .GET, "/hello")
        }
        await server.shutdown(gracePeriod: .seconds(1))
        #expect(try response.get().text == "hello world")
        #expect(server.localAddress.port == port)
    }

    @Test("LISTEN_FDS counts only for the process LISTEN_PID names")
    func activationEnvironment() {
        let mine: Int32 = 4242
        #expect(SocketActivation(environment: [:], processID: mine) == .none)
        #expect(SocketActivation(environment: ["LISTEN_FDS": "1"], processID: mine).proxy == nil)
        let other = SocketActivation(environment: ["LISTEN_FDS": "1", "LISTEN_PID": "4243"], processID: mine)
        #expect(other.proxy == nil)
        let one = SocketActivation(environment: ["LISTEN_FDS": "1", "LISTEN_PID": "4242"], processID: mine)
        #expect(one.proxy == 3)
        #expect(one.admin == nil)
        let two = SocketActivation(environment: ["LISTEN_FDS": "2", "LISTEN_PID": "4242"], processID: mine)
        #expect(two.proxy == 3)
        #expect(two.admin == 4)
        #expect(SocketActivation(environment: ["LISTEN_FDS": "0", "LISTEN_PID": "4242"], processID: mine).proxy == nil)
    }
}

/// A TCP socket listening on 127.0.0.1:`port`, as systemd would pass one.
private func listeningSocket(port: Int) throws -> CInt {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw FixtureError("socket() failed: \(errno)") }
    let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
    let bound = address.withSockAddr { bind(descriptor, $0, socklen_t($1)) }
    guard bound == 0, listen(descriptor, 128) == 0 else {
        close(descriptor)
        throw FixtureError("bind/listen on port \(port) failed: \(errno)")
    }
    return descriptor
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
