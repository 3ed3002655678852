import Logging
import NIOCore
import NIOPosix
import SSERelayCore
import Testing

@testable import SSERelay

/// ``UpstreamHealthChecker`` against the Node fixture and a port that refuses: what passes,
/// what fails and how the failure is told, and what a check does to the server's place in the
/// rotation.
@Suite("UpstreamHealthChecker")
struct UpstreamHealthCheckerTests {
    private static func checker(port: Int, path: String, timeout: Double = 2) -> UpstreamHealthChecker {
        let url = UpstreamURL(host: "127.0.0.1", port: port)
        var check = UpstreamHealthCheckConfiguration(path: path)
        check.timeoutSeconds = timeout
        let server = UpstreamServer(
            index: 0, configuration: UpstreamServerConfiguration(url: url),
            addresses: UpstreamAddresses(host: url.host, port: url.port), health: UpstreamHealthConfiguration(),
            tracksHealth: true, metrics: RelayMetrics().upstreamServer(url.description),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        return UpstreamHealthChecker(server: server, check: check, group: MultiThreadedEventLoopGroup.singleton)
    }

    @Test("2xx and 3xx pass; 4xx and 5xx fail with their status")
    func statuses() async throws {
        let backend = try await BackendProcess.shared
        for (path, expected) in [
            ("/hello", nil), ("/status/204", nil), ("/status/302", nil), ("/status/404", "status 404"),
            ("/status/503", "status 503"),
        ] as [(String, String?)] {
            #expect(await Self.checker(port: backend.port, path: path).checkOnce() == expected, "\(path)")
        }
    }

    @Test("a refused connect fails, saying so")
    func refused() async throws {
        let port = try RefusingPort()
        let failure = await Self.checker(port: port.port, path: "/hello").checkOnce()
        #expect(failure?.contains("refused the connection") == true, "\(failure ?? "passed")")
    }

    @Test("an answer slower than the timeout fails as a timeout")
    func timeout() async throws {
        let backend = try await BackendProcess.shared
        let failure = await Self.checker(port: backend.port, path: "/hang", timeout: 0.2).checkOnce()
        #expect(failure == "no answer within 0.2 s")
    }

    @Test("a failing check takes the server out until a passing one puts it back")
    func rotation() async throws {
        let backend = try await BackendProcess.shared
        let failing = Self.checker(port: backend.port, path: "/status/500")
        let server = failing.server
        server.recordCheck(passed: await failing.checkOnce() == nil, reason: "test")
        #expect(!server.takesTraffic(at: .now()))
        let passing = UpstreamHealthChecker(
            server: server, check: UpstreamHealthCheckConfiguration(path: "/hello"), group: failing.group)
        server.recordCheck(passed: await passing.checkOnce() == nil, reason: "test")
        #expect(server.takesTraffic(at: .now()))
    }
}
