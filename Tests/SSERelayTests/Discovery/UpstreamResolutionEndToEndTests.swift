import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

/// The relay follows its upstream's host name to another address while it runs, as it must
/// when a backend container restarts and gets a new address: the relay runs in a mount
/// namespace of its own with a hosts file of the test's over `/etc/hosts`, the backend moves
/// from 127.0.0.1 to 127.0.0.2, and the file is rewritten.
@Suite(
    "Upstream name resolution, end to end", .timeLimit(.minutes(1)),
    .enabled(
        if: MountNamespace.isAvailable,
        "needs `unshare --map-root-user --mount` (util-linux, unprivileged user namespaces); .ci/run requires it"))
struct UpstreamResolutionEndToEndTests {
    private struct BackendStats: Decodable {
        var requests: Int
    }

    private func requests(_ port: Int, _ host: String) async throws -> Int {
        let response = try await fetch(try SocketAddress(ipAddress: host, port: port), .GET, "/stats")
        return try JSONDecoder().decode(BackendStats.self, from: Data(response.body.readableBytesView)).requests
    }

    /// The relay in a mount namespace of its own with `hosts` over `/etc/hosts`, its upstream
    /// `http://backend.test:PORT` resolved again every second; the configuration file is
    /// returned so that it outlives the relay's reading of it.
    private func startRelay(backendPort: Int, hosts: TemporaryFile) throws -> (RelayProcess, TemporaryFile) {
        let configuration = try TemporaryFile(
            """
            {
              "listen": "127.0.0.1:0",
              "admin": { "listen": "127.0.0.1:0" },
              "upstream": { "url": "http://backend.test:\(backendPort)", "resolveIntervalSeconds": 1 }
            }
            """)
        let relay = try RelayProcess(
            arguments: ["--config", configuration.path],
            launcher: MountNamespace.launcher(bindMounting: hosts.path, over: "/etc/hosts"))
        return (relay, configuration)
    }

    @Test("a backend that moves is followed without a restart; the stream on its old address finishes there")
    func followsMovedBackend() async throws {
        let hosts = try TemporaryFile("127.0.0.1 backend.test\n")
        let old = try await BackendProcess.start(host: "127.0.0.1")
        defer { old.stop() }
        let moved = try await BackendProcess.start(port: old.port, host: "127.0.0.2")
        defer { moved.stop() }
        let (relay, configuration) = try self.startRelay(backendPort: old.port, hosts: hosts)
        defer { relay.stop() }
        defer { withExtendedLifetime(configuration) {} }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.listeningPort())
        let hello = try await fetch(address, .GET, "/hello")
        #expect(String(buffer: hello.body) == "hello world")
        let movedBefore = try await self.requests(moved.port, "127.0.0.2")

        let conversation = "moving-\(UUID().uuidString.prefix(8))"
        let release = { (events: Int) in
            _ = try await fetch(
                try SocketAddress(ipAddress: "127.0.0.1", port: old.port), .POST,
                "/api/conversation/\(conversation)/release?events=\(events)")
        }
        let data = try await SSETestStream.open(
            address, "/api/conversation/\(conversation)/stream?events=3&gate=1"
        ) { stream in
            try await release(1)
            var data = [try await stream.nextEvent()?.data]
            // The backend moves while the stream runs on the old address.
            try hosts.rewriteInPlace("127.0.0.2 backend.test\n")
            try await relay.waitForLog("upstream addresses changed")
            let answer = try await fetch(address, .GET, "/hello")
            #expect(String(buffer: answer.body) == "hello world")
            // Two more: the `/hello` through the relay, and the `/stats` read before it.
            #expect(try await self.requests(moved.port, "127.0.0.2") == movedBefore + 2)
            try await release(2)
            data += try await stream.readToEnd().filter { $0.data != nil }.map(\.data)
            return data
        }
        #expect(data == (1...3).map { "token \($0) of \(conversation)" })
        #expect(relay.logText.contains("127.0.0.2:\(old.port)"))
    }

    @Test(
        "a name that does not resolve yet: the relay serves 502 and says why in /readyz, then follows it once it does")
    func startsBeforeTheNameResolves() async throws {
        let hosts = try TemporaryFile("127.0.0.1 localhost\n")
        let backend = try await BackendProcess.start(host: "127.0.0.1")
        defer { backend.stop() }
        let (relay, configuration) = try self.startRelay(backendPort: backend.port, hosts: hosts)
        defer { relay.stop() }
        defer { withExtendedLifetime(configuration) {} }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.listeningPort())
        let admin = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.adminPort())
        #expect(relay.logText.contains("upstream name does not resolve"))
        let refused = try await fetch(address, .GET, "/hello")
        #expect(refused.head.status == .badGateway)
        #expect(!String(buffer: refused.body).contains("backend.test"), "the name is the operator's business")
        let readiness = try await fetch(admin, .GET, "/readyz")
        #expect(readiness.head.status == .serviceUnavailable)
        #expect(String(buffer: readiness.body).contains("backend.test does not resolve"))

        try hosts.rewriteInPlace("127.0.0.1 localhost\n127.0.0.1 backend.test\n")
        try await relay.waitForLog("upstream addresses changed")
        #expect(relay.logText.contains("upstream name resolves again"))
        let answer = try await fetch(address, .GET, "/hello")
        #expect(String(buffer: answer.body) == "hello world")
        #expect(try await fetch(admin, .GET, "/readyz").head.status == .ok)
    }
}
