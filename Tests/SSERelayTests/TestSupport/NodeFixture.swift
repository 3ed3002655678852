import Foundation

/// A Node script of `Fixtures/` running as a child process: it prints `{"port": N}` on stdout
/// once it listens on 127.0.0.1 and exits when its stdin (a pipe this process holds) closes.
struct NodeFixture {
    let process: Process
    let exit: ProcessExit
    let port: Int

    /// Starts `script` with `arguments` and, added to this process's, `environment`, and waits
    /// for its port.
    ///
    /// The wait blocks a thread, so it runs on a Dispatch queue rather than on the test's
    /// cooperative pool, which parallel tests would otherwise starve.
    static func launch(
        _ script: URL, arguments: [String], environment: [String: String] = [:]
    ) async throws -> NodeFixture {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result { try Self.launchBlocking(script, arguments: arguments, environment: environment) })
            }
        }
    }

    private static func launchBlocking(
        _ script: URL, arguments: [String], environment: [String: String]
    ) throws -> NodeFixture {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["node", script.path] + arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let output = Pipe()
        process.standardOutput = output
        // The script exits when this pipe closes, which happens when the test process ends.
        process.standardInput = Pipe()
        let exit = ProcessExit(of: process)
        try process.run()

        var announced = Data()
        // Bounded: the script prints one short line; EOF (the process died) ends the loop.
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
                "\(script.lastPathComponent) did not announce its port: \(String(decoding: announced, as: UTF8.self))")
        }
        return NodeFixture(process: process, exit: exit, port: port)
    }
}
