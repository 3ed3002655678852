import Foundation
import NIOCore
import Testing

@testable import SSERelay

/// `sd_notify` without libsystemd (issue 5): what the relay tells systemd, and when.
@Suite("systemd notification", .timeLimit(.minutes(1)))
struct SystemdNotifyTests {
    @Test("the notifier reads its environment")
    func environment() {
        #expect(!SystemdNotifier(environment: [:]).isEnabled)
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]).isEnabled)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/systemd/notify"]).isEnabled)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@abstract"]).isEnabled)
        #expect(SystemdNotifier(environment: [:]).notify("READY=1") == false)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000"]).watchdogInterval == .seconds(15))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "x"]).watchdogInterval == nil)
        let other = SystemdNotifier(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "\(getpid() + 1)"])
        #expect(other.watchdogInterval == nil)
        let mine = SystemdNotifier(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "\(getpid())"])
        #expect(mine.watchdogInterval == .microseconds(500))
    }

    @Test("the relay sends READY, then WATCHDOG pings, then STOPPING on SIGTERM and exits 0", arguments: [false, true])
    func sequence(abstractSocket: Bool) async throws {
        let socket = try NotifySocket(abstract: abstractSocket)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("sse-relay")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "warning"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = socket.name
        environment["WATCHDOG_USEC"] = "100000"
        process.environment = environment
        process.standardError = Pipe()
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
        }

        let ready = try #require(await socket.receive())
        #expect(ready.hasPrefix("READY=1\nSTATUS=serving on 127.0.0.1:"))
        for _ in 0..<3 {
            #expect(await socket.receive() == "WATCHDOG=1")
        }

        process.terminate()
        var stopping: String?
        // Bounded: pings that were already on their way come first.
        for _ in 0..<50 {
            guard let message = await socket.receive() else { break }
            if message != "WATCHDOG=1" {
                stopping = message
                break
            }
        }
        #expect(stopping == "STOPPING=1\nSTATUS=draining connections and streams")
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }
}
