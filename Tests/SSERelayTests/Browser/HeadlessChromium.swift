import Foundation

/// Headless Chromium, driven by `Fixtures/browser/drive-chromium.js` over the DevTools
/// protocol: it opens a page, waits for the page's `window.sseDone` promise and hands back the
/// value it resolved to, read from the page's DOM.
///
/// One browser per page: Chromium starts in about a second, and a fresh profile per page
/// keeps the pages from sharing connections or cache.
struct HeadlessChromium {
    /// The browser executable.
    let executable: String

    /// How long one page may take, browser start and shutdown included. The driver gives up
    /// after this and ends the browser; the test process waits a little longer for it.
    static let pageTimeout: Duration = .seconds(30)

    /// The environment variable that runs the browser tests: `SSE_RELAY_BROWSER_TESTS=1`.
    ///
    /// They run in a `swift test` of their own (`.ci/run` does: the README says how), never
    /// beside the rest of the suite: a browser's start-up and rendering take both cores of a
    /// small machine for seconds, and the tests running in parallel that check a timeout of a
    /// second (a slow upload is not a response timeout, a stalled upstream is cancelled in
    /// time) then see their own event loops late and fail for a reason that is not theirs.
    static let runVariable = "SSE_RELAY_BROWSER_TESTS"

    /// Whether the browser tests run: only when ``runVariable`` is `1`. Then a missing browser
    /// fails the tests, with how to install it; otherwise they are skipped, and the test output
    /// says how to run them.
    static var testsRun: Bool {
        ProcessInfo.processInfo.environment[Self.runVariable] == "1"
    }

    /// Finds Chromium: `$CHROMIUM`, or `chromium` (Debian's package) on `PATH`; throws with how
    /// to install it when there is none.
    static func locate() throws -> HeadlessChromium {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["CHROMIUM"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw FixtureError("$CHROMIUM is \(path), which is not an executable file")
            }
            return HeadlessChromium(executable: path)
        }
        let directories = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser"] {
            for directory in directories {
                let path = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) {
                    return HeadlessChromium(executable: path)
                }
            }
        }
        throw FixtureError(
            """
            the browser end-to-end tests need headless Chromium, and there is no `chromium` on PATH: \
            install it with `apt-get install -y --no-install-recommends chromium` (.ci/run does), or set \
            CHROMIUM to the browser's path
            """)
    }

    /// Opens `url` in a fresh headless browser and decodes what the page reports.
    func report<Report: Decodable>(_ type: Report.Type, from url: String) async throws -> Report {
        let run = try await withCheckedThrowingContinuation { continuation in
            // The driver's output is read with blocking calls: not on the cooperative pool.
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.runDriver(url: url) })
            }
        }
        let status = await run.exit.wait()
        guard run.process.terminationReason == .exit, status == 0 else {
            throw FixtureError(
                "headless Chromium could not report on \(url): \(String(decoding: run.message, as: UTF8.self))")
        }
        let output = run.report
        do {
            return try JSONDecoder().decode(Report.self, from: output)
        } catch {
            throw FixtureError(
                "the page's report does not decode (\(error)): \(String(decoding: output, as: UTF8.self))")
        }
    }

    /// What a driver run printed, and its exit to await.
    private struct DriverRun: @unchecked Sendable {
        // @unchecked: `Process` is not Sendable; it is only read (its termination reason) after
        // its exit, which `exit` orders.
        var process: Process
        var exit: ProcessExit
        var report: Data
        var message: Data
    }

    private func runDriver(url: String) throws -> DriverRun {
        let timeoutMilliseconds = Self.pageTimeout.components.seconds * 1000
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "node", CuttingProxy.fixtures.appendingPathComponent("drive-chromium.js").path, self.executable, url,
            String(timeoutMilliseconds),
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        // The driver ends the browser and exits when this pipe closes: if the test process dies,
        // no browser is left behind.
        process.standardInput = Pipe()
        let exit = ProcessExit(of: process)
        try process.run()
        // A backstop only: the driver keeps its own deadline and ends the browser itself.
        let backstop = DispatchWorkItem {
            if process.isRunning { process.terminate() }
        }
        DispatchQueue.global().asyncAfter(
            deadline: .now() + .milliseconds(Int(timeoutMilliseconds) + 10_000), execute: backstop)
        // Read one after the other: the driver writes at most a few KiB to stderr (its message
        // and the browser's last 4,000 characters of log), far below a pipe's buffer.
        let report = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        backstop.cancel()
        return DriverRun(process: process, exit: exit, report: report, message: message)
    }
}
