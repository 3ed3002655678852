import Foundation
import NIOCore
import Testing

@testable import SSERelay

/// `sd_notify` without libsystemd: what the relay tells systemd, and when.
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

    @Test(
        "the relay sends READY, WATCHDOG pings, RELOADING then READY around each SIGHUP, then STOPPING on SIGTERM",
        arguments: [false, true])
    func sequence(abstractSocket: Bool) async throws {
        let socket = try NotifySocket(abstract: abstractSocket)
        let file = try TemporaryFile(#"{"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"}}"#)
        let relay = try RelayProcess(
            arguments: ["--config", file.path, "--log-level", "warning"],
            environment: ["NOTIFY_SOCKET": socket.name, "WATCHDOG_USEC": "100000"]
        )
        defer { relay.stop() }

        let ready = try #require(await socket.receive())
        #expect(ready.hasPrefix("READY=1\nSTATUS=serving on 127.0.0.1:"))
        for _ in 0..<3 {
            #expect(await socket.receive() == "WATCHDOG=1")
        }

        /// The next message that is not a watchdog ping or a periodic status line.
        func nextState() async -> String? {
            // Bounded: pings and status lines that were already on their way come first.
            for _ in 0..<100 {
                guard let message = await socket.receive() else { return nil }
                if message != "WATCHDOG=1", !message.hasPrefix("STATUS=") { return message }
            }
            return nil
        }
        func expectReloading() async throws {
            let reloading = try #require(await nextState())
            let fields = reloading.split(separator: "\n")
            #expect(fields.first == "RELOADING=1")
            let usec = fields.count == 2 ? fields[1].split(separator: "=").last.flatMap { Int64($0) } : nil
            #expect(fields.count == 2 && fields[1].hasPrefix("MONOTONIC_USEC=") && (usec ?? 0) > 0)
        }

        try file.write(#"{"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"}, "log": {"headers": true}}"#)
        relay.signal(SIGHUP)
        try await expectReloading()
        #expect(await nextState()?.hasPrefix("READY=1\nSTATUS=serving on 127.0.0.1:") == true)

        try file.write(#"{"limits": {"maxConnections": "many"}}"#)
        relay.signal(SIGHUP)
        try await expectReloading()
        #expect(await nextState() == "READY=1\nSTATUS=reload failed, running the previous configuration")

        relay.signal(SIGTERM)
        #expect(await nextState() == "STOPPING=1\nSTATUS=draining connections and streams")
        #expect(await relay.waitForExit() == 0)
        #expect(relay.process.terminationReason == .exit)
    }
}
