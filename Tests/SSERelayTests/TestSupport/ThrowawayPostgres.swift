import Foundation
import NIOConcurrencyHelpers
import Testing

/// A real PostgreSQL server for tests, made to be thrown away: `deploy/postgres-throwaway.sh`
/// creates a cluster in a temporary directory and starts it on 127.0.0.1, on a port the OS
/// chose, with a user `relay` that logs in with a password (scram-sha-256) and an empty
/// database `relay`. The user is the cluster's superuser, so a test may create what it needs.
///
/// Starting one takes a second or two (initdb), so suites share ``shared`` and each test works
/// in tables of its own, named by ``uniqueTableName(_:)``. A test that needs a server to itself
/// (to stop it under the relay, say) uses ``withServer(_:)``, or ``start()`` and ``stop()``.
///
/// No server outlives the test process, however it ends: the script runs with
/// `--until-stdin-closes`, which leaves a watcher reading a pipe whose only write end this
/// process holds (``lifeline``). When the process exits, or crashes, or is killed, the kernel
/// closes that end, and the watcher stops the server and removes its directory. That is how
/// ``shared`` ends too, rather than an `atexit` handler, which a crash or a signal skips; and a
/// server a test forgot to stop ends when its value goes away.
///
/// Where the server binaries are missing, suites with the ``Testing/Trait/needsThrowawayPostgres`` trait
/// are skipped, and the test output says why; with `SSE_RELAY_REQUIRE_POSTGRES=1` (CI sets it)
/// they run, and ``start()`` fails with what is missing and how to install it.
final class ThrowawayPostgres: Sendable {
    /// Always `127.0.0.1`: the server listens there only.
    let host: String
    let port: Int
    let user: String
    /// The user's password, from the directory's `password` file.
    let password: String
    let database: String
    /// `postgres://relay@127.0.0.1:PORT/relay`: the password is not in it (see ``password``).
    let url: String
    /// The server's directory: `data/`, `socket/`, `log` (the server's), `password`, `url`.
    let directory: URL
    /// Where the server's binaries are (`psql` is there too).
    let binDirectory: URL

    /// The write end of the pipe the script's watcher reads: closing it stops the server.
    private let lifeline: FileHandle
    private let stopped = NIOLockedValueBox(false)

    /// The environment variable that turns a missing server into a failure:
    /// `SSE_RELAY_REQUIRE_POSTGRES=1`, which `.ci/run` and `.ci/sanitize` set, so that the tests
    /// of the cluster directory never skip in CI.
    static let requireVariable = "SSE_RELAY_REQUIRE_POSTGRES"

    /// Whether a missing server fails the tests that need one rather than skipping them.
    static var isRequired: Bool {
        ProcessInfo.processInfo.environment[Self.requireVariable] == "1"
    }

    /// Whether the server binaries are here (and, as root, a user to run them as).
    static var isAvailable: Bool {
        (try? Self.binaries.get()) != nil
    }

    /// The script, found from this file like `Fixtures/` is.
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/postgres-throwaway.sh")

    /// The binaries' directory, or what is missing: the script's `check`, run once.
    private static let binaries: Result<URL, FixtureError> = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", ThrowawayPostgres.script.path, "check"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            return .failure(FixtureError("cannot run \(ThrowawayPostgres.script.path): \(error)"))
        }
        // Sequential reads: `check` prints one short line on one of the two.
        let directory = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(FixtureError(message.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return .success(URL(fileURLWithPath: directory.trimmingCharacters(in: .whitespacesAndNewlines)))
    }()

    /// The server shared by every test of the process: started on first use, stopped when the
    /// process ends (see the type's comment). Never ``stop()`` it.
    static var shared: ThrowawayPostgres {
        get async throws { try await SharedPostgres.instance.get() }
    }

    private init(
        url: URL, password: String, directory: URL, binDirectory: URL, lifeline: FileHandle
    ) throws {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
            let host = components.host, let port = components.port, let user = components.user,
            components.path.count > 1
        else {
            throw FixtureError("deploy/postgres-throwaway.sh printed \(url), which is not postgres://USER@HOST:PORT/DB")
        }
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = String(components.path.dropFirst())
        self.url = url.absoluteString
        self.directory = directory
        self.binDirectory = binDirectory
        self.lifeline = lifeline
    }

    /// Starts a server of its own in a fresh temporary directory and waits until it takes
    /// connections. Throws with what is missing when the binaries are, with the end of the
    /// server's log when it does not start; no server is left running then.
    static func start() async throws -> ThrowawayPostgres {
        let binDirectory: URL
        do {
            binDirectory = try Self.binaries.get()
        } catch {
            let consequence =
                Self.isRequired
                ? "\(Self.requireVariable)=1 is set, so a missing server fails the tests that need one"
                : "the tests that need a server are skipped"
            throw FixtureError("\(error.description) (\(consequence))")
        }
        // Short: the unix socket's path inside it must fit in 107 bytes.
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sse-relay-pg-\(UUID().uuidString.prefix(8))")
        let lifeline = Pipe()
        do {
            let run = try await Self.runScript(["start", directory.path, "--until-stdin-closes"], input: lifeline)
            guard run.status == 0 else {
                throw FixtureError("deploy/postgres-throwaway.sh start exited \(run.status): \(run.errors)")
            }
            let printed = run.output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let url = URL(string: printed) else {
                throw FixtureError("deploy/postgres-throwaway.sh start printed no URL but \(printed)")
            }
            let password = try String(contentsOf: directory.appendingPathComponent("password"), encoding: .utf8)
            return try ThrowawayPostgres(
                url: url, password: password, directory: directory, binDirectory: binDirectory,
                lifeline: lifeline.fileHandleForWriting)
        } catch {
            // The script stops what it started when it fails; this covers a failure here after
            // it succeeded, and removes the directory either way.
            _ = try? await Self.runScript(["stop", directory.path, "--remove"])
            try? lifeline.fileHandleForWriting.close()
            throw error
        }
    }

    /// Runs `body` with a server of its own, stopped when `body` returns or throws.
    static func withServer<Value>(_ body: (ThrowawayPostgres) async throws -> Value) async throws -> Value {
        let server = try await Self.start()
        let result: Value
        do {
            result = try await body(server)
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
        return result
    }

    /// Stops the server (fast mode: open sessions end) and removes its directory; once it
    /// returns, the port refuses connections. Does nothing the second time.
    func stop() async throws {
        let first = self.stopped.withLockedValue { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        defer { try? self.lifeline.close() }
        let run = try await Self.runScript(["stop", self.directory.path, "--remove"])
        guard run.status == 0 else {
            throw FixtureError("deploy/postgres-throwaway.sh stop exited \(run.status): \(run.errors)")
        }
    }

    /// Runs `sql` with `psql` as ``user`` over TCP with ``password`` (as the relay will log in),
    /// in ``database``, unless another database or password is given (a wrong one, to see it
    /// refused); returns what it printed, unaligned, without headers (`1|a` for a row of two
    /// columns), trimmed. Throws with psql's message on an error.
    func psql(_ sql: String, database: String? = nil, password: String? = nil) async throws -> String {
        let bundled = self.binDirectory.appendingPathComponent("psql").path
        let command = FileManager.default.isExecutableFile(atPath: bundled) ? [bundled] : ["psql"]
        var target = URLComponents()
        target.scheme = "postgres"
        target.user = self.user
        target.host = self.host
        target.port = self.port
        target.path = "/" + (database ?? self.database)
        let run = try await Self.runProcess(
            command + [
                "--no-psqlrc", "--no-password", "--no-align", "--tuples-only", "--quiet",
                "--set=ON_ERROR_STOP=1", "--command=\(sql)", target.string ?? self.url,
            ],
            environment: ["PGPASSWORD": password ?? self.password, "PGCONNECT_TIMEOUT": "10"])
        guard run.status == 0 else {
            throw FixtureError("psql exited \(run.status) on \(sql): \(run.errors)")
        }
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A table name no other test uses: `prefix`, `_` and 16 hex digits (PostgreSQL allows
    /// 63 bytes; a lowercase name needs no quoting).
    static func uniqueTableName(_ prefix: String = "test") -> String {
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        return "\(prefix)_\(suffix)"
    }

    deinit {
        // A server its test did not stop: the watcher stops it and removes its directory.
        if !self.stopped.withLockedValue({ $0 }) {
            try? self.lifeline.close()
        }
    }

    private struct Run {
        var status: Int32
        var output: String
        var errors: String
    }

    private static func runScript(_ arguments: [String], input: Pipe? = nil) async throws -> Run {
        try await Self.runProcess(["bash", Self.script.path] + arguments, input: input)
    }

    /// Runs `command` (looked up on PATH) to its end with `environment` added to this
    /// process's. Its output is read with blocking calls, so on a Dispatch queue rather than
    /// the cooperative pool, and its exit is awaited with ``ProcessExit``.
    private static func runProcess(
        _ command: [String], environment: [String: String] = [:], input: Pipe? = nil
    ) async throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        if let input {
            process.standardInput = input
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        let exit = ProcessExit(of: process)
        try process.run()
        // Read one after the other: what these commands write on stderr (psql's message, the
        // script's last 20 lines of the server's log) is far below a pipe's buffer.
        let (outputData, errorData) = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let outputData = output.fileHandleForReading.readDataToEndOfFile()
                let errorData = errors.fileHandleForReading.readDataToEndOfFile()
                continuation.resume(returning: (outputData, errorData))
            }
        }
        let status = await exit.wait()
        return Run(
            status: status, output: String(decoding: outputData, as: UTF8.self),
            errors: String(decoding: errorData, as: UTF8.self))
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs a suite that needs ``ThrowawayPostgres`` where its binaries are installed, or where
    /// `SSE_RELAY_REQUIRE_POSTGRES=1` requires them (then a missing one fails the tests).
    static var needsThrowawayPostgres: Self {
        .enabled(
            if: ThrowawayPostgres.isAvailable || ThrowawayPostgres.isRequired,
            """
            needs PostgreSQL's server binaries (`bash deploy/postgres-throwaway.sh check` says what is missing): \
            apt-get install -y --no-install-recommends postgresql-15 (.ci/run does, and sets SSE_RELAY_REQUIRE_POSTGRES=1)
            """)
    }
}

/// Starts the shared server once, however many tests ask for it at the same time.
private actor SharedPostgres {
    static let instance = SharedPostgres()
    private var starting: Task<ThrowawayPostgres, any Error>?

    func get() async throws -> ThrowawayPostgres {
        if let starting {
            return try await starting.value
        }
        let task = Task { try await ThrowawayPostgres.start() }
        self.starting = task
        return try await task.value
    }
}
