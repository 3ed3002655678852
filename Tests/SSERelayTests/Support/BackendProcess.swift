import Foundation

/// The Node fixture backend (`Fixtures/backend.js`) running as a real process on 127.0.0.1
/// with a port chosen by the OS.
final class BackendProcess: Sendable {
    let port: Int
    private let process: Process
    private let exit: ProcessExit

    private init(port: Int, process: Process, exit: ProcessExit) {
        self.port = port
        self.process = process
        self.exit = exit
    }

    /// The fixture shared by tests that do not read its global counters; started on first use
    /// and ended with the test process (the fixture exits when its stdin closes).
    static var shared: BackendProcess {
        get async throws { try await SharedBackend.instance.get() }
    }

    /// Starts a fixture of its own and waits for the line announcing its port.
    ///
    /// The wait blocks a thread, so it runs on a Dispatch queue rather than on the test's
    /// cooperative pool, which parallel tests would otherwise starve.
    ///
    /// - Parameter port: A fixed port (to bring a stopped backend back where it was), or 0.
    static func start(port: Int = 0) async throws -> BackendProcess {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Self.startBlocking(port: port) })
            }
        }
    }

    private static func startBlocking(port: Int) throws -> BackendProcess {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/backend.js")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["node", script.path, String(port)]
        let output = Pipe()
        process.standardOutput = output
        // The fixture exits when this pipe closes, which happens when the test process ends.
        process.standardInput = Pipe()
        let exit = ProcessExit(of: process)
        try process.run()

        var announced = Data()
        // Bounded: the fixture prints one short line; EOF (the process died) ends the loop.
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
                "the backend fixture did not announce its port: \(String(decoding: announced, as: UTF8.self))")
        }
        return BackendProcess(port: port, process: process, exit: exit)
    }

    /// Asks the fixture to exit; returns at once (see ``ProcessExit`` for why it does not wait).
    func stop() {
        if self.process.isRunning {
            self.process.terminate()
        }
    }

    /// Stops the fixture and waits until it has exited (its port is free again).
    func stopAndWait() async {
        self.stop()
        _ = await self.exit.wait()
    }

    deinit {
        self.stop()
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Starts the shared fixture once, however many tests ask for it at the same time.
private actor SharedBackend {
    static let instance = SharedBackend()
    private var starting: Task<BackendProcess, any Error>?

    func get() async throws -> BackendProcess {
        if let starting {
            return try await starting.value
        }
        let task = Task { try await BackendProcess.start() }
        self.starting = task
        return try await task.value
    }
}
