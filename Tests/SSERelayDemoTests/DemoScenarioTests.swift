import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import SSERelayDemo

/// `sse-relay demo`'s scripted scenario, run in process against the demo backend and a relay:
/// what it shows is what happens.
@Suite("Demo scenario", .timeLimit(.minutes(1)))
struct DemoScenarioTests {
    /// Collects the account's lines.
    final class Account: Sendable {
        /// Pthread-based, so ThreadSanitizer sees it (it does not see `Synchronization.Mutex`).
        private let lines = NIOLockedValueBox<[String]>([])
        var text: String { self.lines.withLockedValue { $0.joined(separator: "\n") } }
        func append(_ line: String) { self.lines.withLockedValue { $0.append(line) } }
    }

    /// Runs the scenario against a demo backend with `tokenInterval` and a relay in front of it.
    private func runScenario(tokenInterval: TimeAmount) async throws -> (DemoScenarioOutcome, String) {
        let backend = try await DemoBackend.bind(tokenInterval: tokenInterval)
        let port = try #require(backend.localAddress.port)
        let result = await Result {
            let relay = try await DemoRelay.start(upstreamPort: port)
            let account = Account()
            let outcome = await Result {
                try await DemoScenario(
                    relay: relay.address, backend: backend, narrator: DemoNarrator(output: account.append)
                ).run()
            }
            await relay.stop()
            return (try outcome.get(), account.text)
        }
        await backend.close()
        return try result.get()
    }

    @Test("one upstream stream for two tabs, a drop and two reconnects; identical transcripts; 204 at the end")
    func outcome() async throws {
        // 16 words 250 ms apart: B joins after A's 3rd word and A drops after its 6th, each with
        // seconds of the answer to go, so both find the stream still running even on a busy
        // machine under a sanitizer (80 ms apart was once too little there).
        let (outcome, account) = try await self.runScenario(tokenInterval: .milliseconds(250))

        #expect(outcome.upstreamStreams == 1)
        #expect(outcome.requests == 5)
        #expect(outcome.transcripts["A"] == DemoBackend.completion)
        #expect(outcome.transcripts["B"] == DemoBackend.completion)
        #expect(outcome.answers["A"] == ["started", "resumed", "204"])
        #expect(outcome.answers["B"] == ["joined", "204"])

        #expect(account.contains("200 joined"))
        #expect(account.contains("GET with Last-Event-ID: "))
        #expect(account.contains("204 No Content"))
        #expect(account.contains("the backend started 1 completion "))
        #expect(account.contains("Both tabs show the answer exactly once, from completion 1:"))
    }

    @Test("a line of the account waits until every streaming tab has the event, then names them all")
    func fanOutLines() {
        let account = Account()
        let narrator = DemoNarrator(output: account.append)
        narrator.streamOpened("A")
        narrator.streamOpened("B")
        narrator.received("B", label: "#1", words: "Server-Sent")
        narrator.received("A", label: "#1", words: "Server-Sent")
        narrator.received("A", label: "#2", words: "Events")
        narrator.streamClosed("B")
        narrator.say("end")
        let lines = account.text.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasSuffix("A B  got #1     Server-Sent"))
        #expect(lines[1].hasSuffix("A    got #2     Events"))
        #expect(lines[2] == "end")
    }
}
