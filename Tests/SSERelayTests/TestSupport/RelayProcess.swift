import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The built `sse-relay` binary (beside the test bundle) running as a child process with JSON
/// logs, for tests of what only a real process has: signals, exit statuses, systemd messages.
///
/// Its stderr is collected as it comes (a readability handler, no thread blocked on it);
/// ``waitForLog(_:)`` waits for a line containing a marker, which is how tests await the relay's
/// own events ("listening", "configuration reloaded") instead of sleeping.
final class RelayProcess: Sendable {
    let process: Process
    private let exit: ProcessExit
    private let log = NIOLockedValueBox(LogState())

    private struct LogState {
        var text = ""
        var ended = false
        var waiters: [(marker: String, after: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    /// Starts the relay with `arguments` (JSON logs at `notice` unless the arguments say
    /// otherwise) and `environment` added to this process's; through `launcher` (a command
    /// that execs the relay, such as `systemd-socket-activate -l ADDRESS`) when one is given.
    init(arguments: [String], environment: [String: String] = [:], launcher: [String] = []) throws {
        let process = Process()
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("sse-relay")
        if let command = launcher.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = launcher.dropFirst() + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        self.process = process
        self.exit = ProcessExit(of: process)
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
            }
            self?.append(chunk.isEmpty ? nil : String(decoding: chunk, as: UTF8.self))
        }
        try process.run()
    }

    /// Everything logged so far.
    var logText: String { self.log.withLockedValue { $0.text } }

    /// Waits until the log holds `marker` at or after character `offset` (so a test can wait for
    /// the next occurrence of a repeated line); fails when the process ends without it.
    func waitForLog(_ marker: String, after offset: Int = 0) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = self.log.withLockedValue { state -> Result<Void, any Error>? in
                if Self.contains(state.text, marker, after: offset) { return .success(()) }
                if state.ended { return .failure(FixtureError("the relay exited without logging \(marker)")) }
                state.waiters.append((marker, offset, continuation))
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// The proxy port from the "sse-relay listening" line.
    func listeningPort() async throws -> Int {
        try await self.waitForLog("sse-relay listening")
        return try self.port(after: "\"listen\":\"")
    }

    /// The admin port from the "sse-relay listening" line.
    func adminPort() async throws -> Int {
        try await self.waitForLog("sse-relay listening")
        return try self.port(after: "\"admin\":\"")
    }

    func signal(_ signal: Int32) {
        kill(self.process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its status.
    func waitForExit() async -> Int32 {
        await self.exit.wait()
    }

    /// Ends the process if it still runs (the end of every test, pass or fail); returns at
    /// once (see ``ProcessExit``).
    func stop() {
        if self.process.isRunning {
            self.process.terminate()
        }
    }

    private func port(after prefix: String) throws -> Int {
        let text = self.logText
        guard let start = text.range(of: prefix)?.upperBound,
            let address = text[start...].split(separator: "\"").first,
            let port = address.split(separator: ":").last.flatMap({ Int($0) })
        else { throw FixtureError("no \(prefix) in the relay's log: \(text)") }
        return port
    }

    private func append(_ chunk: String?) {
        let ready = self.log.withLockedValue { state -> [(CheckedContinuation<Void, any Error>, Bool)] in
            if let chunk {
                state.text += chunk
            } else {
                state.ended = true
            }
            var ready: [(CheckedContinuation<Void, any Error>, Bool)] = []
            state.waiters.removeAll { waiter in
                if Self.contains(state.text, waiter.marker, after: waiter.after) {
                    ready.append((waiter.continuation, true))
                    return true
                }
                if state.ended {
                    ready.append((waiter.continuation, false))
                    return true
                }
                return false
            }
            return ready
        }
        for (continuation, found) in ready {
            if found {
                continuation.resume()
            } else {
                continuation.resume(throwing: FixtureError("the relay exited without logging the awaited line"))
            }
        }
    }

    private static func contains(_ text: String, _ marker: String, after offset: Int) -> Bool {
        guard offset < text.count else { return false }
        return text.dropFirst(offset).contains(marker)
    }

    deinit {
        self.stop()
    }
}
