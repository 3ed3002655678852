import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import SSERelay

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A real relay process out of descriptors: started under an open-files limit of 256 (hard and
/// soft, set by the shell's `ulimit` before it execs the relay) with `limits.maxConnections` far above it, then sent more idle
/// connections than it can hold. It must pause its accepts rather than spin, say so in a
/// bounded number of log lines, count it, keep `/healthz` answering, and serve normally once
/// the clients are gone.
@Suite("Descriptor exhaustion", .timeLimit(.minutes(1)))
struct DescriptorExhaustionTests {
    /// More idle connections than the relay's 256 descriptors.
    static let clients = 400

    @Test("out of descriptors: accepts pause, the log and the metric say so, /healthz answers, and it recovers")
    func exhaustion() async throws {
        let backend = try await BackendProcess.shared
        let file = try TemporaryFile(
            """
            {"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"},
             "upstream": "http://127.0.0.1:\(backend.port)", "limits": {"maxConnections": 100000}}
            """)
        // `sh` (always there, unlike util-linux's `prlimit`) lowers both limits, then becomes the
        // relay: its process id is the relay's.
        let relay = try RelayProcess(
            arguments: ["--config", file.path], launcher: ["/bin/sh", "-c", #"ulimit -n 256 && exec "$0" "$@""#])
        defer { relay.stop() }
        let proxy = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.listeningPort())
        let admin = try SocketAddress(ipAddress: "127.0.0.1", port: try await relay.adminPort())
        let pid = relay.process.processIdentifier

        var sockets = try IdleConnections(to: proxy, count: Self.clients)
        defer { sockets.closeAll() }
        try await relay.waitForLog("accepting connections failed")

        // Out of descriptors, for 2 s: the relay must sleep, not retry accept4 in a loop
        // (which took a whole core). A bound against spinning, not a benchmark.
        let before = try Self.cpuSeconds(of: pid)
        let exhaustedAt = ContinuousClock.now
        try await Task.sleep(for: .seconds(2))
        let cpu = try Self.cpuSeconds(of: pid) - before
        #expect(cpu < 0.5, "the relay used \(cpu) s of CPU in 2 s while out of descriptors")

        // The admin listener answers from its reserved descriptors.
        let health = try await fetch(admin, .GET, "/healthz")
        #expect(health.status == .ok)

        // At most one line a second per listener, each with its count.
        let seconds = (ContinuousClock.now - exhaustedAt) / .seconds(1)
        let lines = relay.logText.split(separator: "\n").filter { $0.contains("accepting connections failed") }
        #expect(lines.count <= 2 * (Int(seconds.rounded(.up)) + 2), "\(lines.count) lines in \(seconds) s")
        #expect(lines.contains { $0.contains(#""reason":"emfile""#) && $0.contains(#""listener":"proxy""#) })

        // Clients gone: descriptors come back, and the relay serves again by itself.
        sockets.closeAll()
        let response = try await Self.eventually { try await fetch(proxy, .GET, "/hello") }
        #expect(response.status == .ok)
        #expect(String(buffer: response.body) == "hello world")

        let metrics = try await fetch(admin, .GET, "/metrics")
        let exposition = try PrometheusExposition(parsing: String(buffer: metrics.body))
        let failures = exposition.value("sse_relay_accept_errors_total", ["listener": "proxy", "reason": "emfile"])
        #expect((failures ?? 0) >= 1)
        // Paused, the proxy listener tried about 4 times a second, not thousands.
        #expect((failures ?? 0) < 200)
    }

    /// User plus system CPU seconds of process `pid`, from `/proc/PID/stat`.
    static func cpuSeconds(of pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The fields after the command name, which is in parentheses and may hold spaces.
        guard let end = stat.lastIndex(of: ")") else { throw FixtureError("unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw FixtureError("unreadable /proc/\(pid)/stat: \(stat)")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// `attempt`'s result once it succeeds, retried for up to 5 s.
    static func eventually<T: Sendable>(_ attempt: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            do {
                return try await attempt()
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

/// Plain TCP connections that connect and never send: the kernel completes them into the
/// listener's backlog whether or not the relay accepts them.
struct IdleConnections {
    private var descriptors: [CInt] = []

    init(to address: SocketAddress, count: Int) throws {
        guard case .v4(let v4) = address else { throw FixtureError("IPv4 only") }
        for _ in 0..<count {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw FixtureError("socket() failed: errno \(errno)") }
            self.descriptors.append(descriptor)
            var target = v4.address
            let connected = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { throw FixtureError("connect() failed: errno \(errno)") }
        }
    }

    mutating func closeAll() {
        for descriptor in self.descriptors {
            close(descriptor)
        }
        self.descriptors = []
    }
}
