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
    /// - Parameters:
    ///   - port: A fixed port (to bring a stopped backend back where it was), or 0.
    ///   - host: The loopback address it listens on (127.0.0.2 for a backend that moved).
    ///   - tls: The key and certificate (PEM file paths) of an HTTPS backend.
    ///   - keepAliveSeconds: How long the fixture keeps an idle connection open; Node's 5 s when
    ///     `nil`.
    static func start(
        port: Int = 0, host: String = "127.0.0.1", tls: (key: String, certificate: String)? = nil,
        keepAliveSeconds: Int? = nil
    ) async throws -> BackendProcess {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/backend.js")
        var environment = tls.map { ["FIXTURE_TLS_KEY": $0.key, "FIXTURE_TLS_CERT": $0.certificate] } ?? [:]
        if let keepAliveSeconds {
            environment["FIXTURE_KEEP_ALIVE_MS"] = String(keepAliveSeconds * 1000)
        }
        let fixture = try await NodeFixture.launch(script, arguments: [String(port), host], environment: environment)
        return BackendProcess(port: fixture.port, process: fixture.process, exit: fixture.exit)
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
