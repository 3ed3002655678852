import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay
@testable import SSERelayDemo

/// The `sse-relay` executable as a user runs it: exit statuses (78 for a
/// bad configuration or flag) and messages.
@Suite("Command line", .timeLimit(.minutes(1)))
struct CommandLineTests {
    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs the built `sse-relay` (beside the test bundle) with `arguments` until it exits.
    private func run(_ arguments: [String]) async throws -> Outcome {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("sse-relay")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let exit = ProcessExit(of: process)
        try process.run()
        // These commands print a few lines, which fit the pipes' buffers, and exit.
        let status = await exit.wait()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        return Outcome(
            status: status,
            output: String(decoding: outputData, as: UTF8.self),
            errors: String(decoding: errorData, as: UTF8.self)
        )
    }

    private func writeTemporary(_ json: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sse-relay-\(UUID().uuidString).json")
            .path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("check-config accepts a valid file")
    func checkValid() async throws {
        let path = try self.writeTemporary(#"{"listen": "127.0.0.1:8081", "streams": []}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = try await self.run(["check-config", path])
        #expect(outcome.status == 0)
        #expect(outcome.output.hasPrefix("\(path): configuration is valid\n"))
    }

    @Test("check-config warns about an upstream name that does not resolve, and still accepts the file")
    func checkWarnsAboutUnresolvableUpstream() async throws {
        let path = try self.writeTemporary(#"{"upstream": "http://no-such-backend.invalid:3000"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = try await self.run(["check-config", path])
        #expect(outcome.status == 0)
        let warning = outcome.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(warning.hasPrefix("warning: upstream.url: no-such-backend.invalid does not resolve"), "\(warning)")
        let resolvable = try self.writeTemporary(#"{"upstream": "http://localhost:3000"}"#)
        defer { try? FileManager.default.removeItem(atPath: resolvable) }
        #expect(!(try await self.run(["check-config", resolvable]).output.contains("warning")))
    }

    @Test("check-config rejects an upstream.tls.caFile that does not read, with exit 78 and the key path")
    func checkRejectsUnreadableCAFile() async throws {
        let path = try self.writeTemporary(
            #"{"upstream": {"url": "https://backend.test", "tls": {"caFile": "/nonexistent/ca.pem"}}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = try await self.run(["check-config", path])
        #expect(outcome.status == 78)
        #expect(
            outcome.errors.contains("\(path): upstream.tls.caFile: cannot read certificates from /nonexistent/ca.pem"),
            "\(outcome.errors)")
    }

    @Test("check-config prints each route's key rule, its private response headers and the redacted query parameters")
    func checkPrintsIdentityRules() async throws {
        let path = try self.writeTemporary(
            #"""
            {"streams": [{"ignoreHeaders": ["x-my-trace"]},
                         {"path": "/b/:id", "varyHeaders": ["Authorization"], "privateResponseHeaders": []}],
             "log": {"redactQueryParameters": ["ticket"]}}
            """#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = try await self.run(["check-config", path])
        #expect(outcome.status == 0)
        let lines = outcome.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(
            lines[1].hasPrefix(
                "streams[0] /api/conversation/:conversationId/stream: stream key headers: every request header except accept, "
            ))
        #expect(lines[1].hasSuffix(", x-my-trace"))
        #expect(
            lines[2]
                == "streams[0] /api/conversation/:conversationId/stream: private response headers: set-cookie, set-cookie2"
        )
        #expect(lines[3] == "streams[1] /b/:id: stream key headers: only authorization (varyHeaders)")
        #expect(lines[4] == "streams[1] /b/:id: private response headers: none")
        #expect(lines[5] == "log.redactQueryParameters: ticket")
    }

    @Test("check-config rejects a bad file with status 78, naming file and key path")
    func checkInvalid() async throws {
        let path = try self.writeTemporary(#"{"streams": [{"retryMs": "2s"}], "limits": {"maxConections": 5}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = try await self.run(["check-config", path])
        #expect(outcome.status == 78)
        #expect(
            outcome.errors.contains(
                "\(path): streams[0].retryMs: expected a whole number from 0 to 86400000 or null, got the string \"2s\""
            ))
        #expect(outcome.errors.contains("\(path): limits.maxConections: unknown key"))
    }

    @Test("a bad flag stops the relay before it listens, with status 78")
    func badFlag() async throws {
        let outcome = try await self.run(["--listen", "nowhere", "--log-level", "loud"])
        #expect(outcome.status == 78)
        #expect(outcome.errors.contains("command line: --listen: expected HOST:PORT"))
        #expect(outcome.errors.contains("command line: --log-level: expected one of trace, debug, info"))
    }

    @Test("--version prints the version")
    func version() async throws {
        let outcome = try await self.run(["--version"])
        #expect(outcome.status == 0)
        #expect(outcome.output == "0.1.0\n")
    }
}

extension CommandLineTests {
    /// Reads `handle` on a Dispatch queue until `marker` appears; returns what was read.
    private func read(_ handle: FileHandle, until marker: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var text = ""
                // Bounded: EOF (the process ended) ends the loop.
                while !text.contains(marker) {
                    let chunk = handle.availableData
                    guard !chunk.isEmpty else { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                if text.contains(marker) {
                    continuation.resume(returning: text)
                } else {
                    continuation.resume(throwing: FixtureError("no \(marker.debugDescription) in: \(text)"))
                }
            }
        }
    }

    @Test("sse-relay demo collapses two clients onto one completion and stops cleanly on SIGTERM")
    func demo() async throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("sse-relay")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["demo", "--listen", "127.0.0.1:0"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let exit = ProcessExit(of: process)
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
        }
        let log = try await self.read(errors.fileHandleForReading, until: "sse-relay listening")
        let listen = try #require(
            log.split(separator: " ").first { $0.hasPrefix("listen=") }?.dropFirst("listen=".count))
        let port = try #require(listen.split(separator: ":").last.flatMap { Int($0) })
        let relay = try SocketAddress(ipAddress: "127.0.0.1", port: port)

        let streams = try await withThrowingTaskGroup(of: [String?].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await SSETestStream.open(relay, "/api/conversation/demo/stream") { stream in
                        try await stream.readToEnd().filter { $0.data != nil }.map(\.data)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(streams.count == 2)
        #expect(streams[0] == streams[1])
        #expect(streams[0].count == DemoBackend.completion.count)
        #expect(try await fetch(relay, .GET, "/api/conversation/demo/starts").text == "1\n")

        process.terminate()
        #expect(await exit.wait() == 0)
        #expect(process.terminationReason == .exit)
    }
}

extension CommandLineTests {
    @Test("SIGTERM drains; a second SIGTERM during the drain exits at once with status 1")
    func secondSignalExitsAtOnce() async throws {
        struct Stats: Decodable { var requests: Int }
        let backend = try await BackendProcess.start()
        defer { backend.stop() }
        let backendAddress = try SocketAddress(ipAddress: "127.0.0.1", port: backend.port)
        func backendRequests() async throws -> Int {
            let response = try await fetch(backendAddress, .GET, "/stats")
            let stats = try JSONDecoder().decode(Stats.self, from: Data(response.body.readableBytesView))
            return stats.requests
        }

        let process = try RelayProcess(arguments: [
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(backend.port)",
        ])
        defer { process.stop() }
        let relay = try SocketAddress(ipAddress: "127.0.0.1", port: try await process.listeningPort())

        try await RawTestConnection.withConnection(to: relay) { hanging in
            let before = try await backendRequests()
            try await hanging.write("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
            // Wait until the backend holds the request, so the drain has something to wait for.
            var polls = 0
            while try await backendRequests() - before - polls < 2, polls < 2_000 {
                polls += 1
            }
            process.signal(SIGTERM)
            try await process.waitForLog("shutting down")
            #expect(process.process.isRunning)
            process.signal(SIGTERM)
            #expect(await process.waitForExit() == 1)
            #expect(process.process.terminationReason == .exit)
        }
    }
}
