import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

/// The bug sse-relay exists for (a reconnecting `EventSource` restarts the completion), in a
/// real browser: headless Chromium runs a chat
/// page whose `EventSource` appends every token to a transcript, through a network that cuts
/// the connection every 3 events (`Fixtures/browser/cutting-proxy.js`).
///
/// Without the relay every reconnect starts the completion again; through it the transcript
/// is the completion exactly once, the backend starts it once, and the `204` at the end makes
/// the browser close the `EventSource` for good.
///
/// Serialized: each test runs a browser, and two at once on a small CI machine only make both
/// slower. They run in a `swift test` of their own, with `SSE_RELAY_BROWSER_TESTS=1` (as
/// `.ci/run` does), and are skipped otherwise, with how to run them in the test output; see
/// ``HeadlessChromium/runVariable`` for why.
@Suite(
    "Browser end to end", .serialized, .timeLimit(.minutes(1)),
    .enabled(
        if: HeadlessChromium.testsRun,
        """
        the browser tests run on their own, beside nothing that a browser's load could slow down: \
        SSE_RELAY_BROWSER_TESTS=1 swift test --filter BrowserEndToEndTests (needs `chromium`)
        """))
struct BrowserEndToEndTests {
    /// What `chat.html` shows once its `EventSource` is closed.
    struct ChatReport: Decodable {
        /// The transcript, one entry per message event.
        var tokens: [String]
        /// `EventSource.readyState` at the end: 2 is `CLOSED`.
        var readyState: Int
        var opens: Int
        var errors: Int
        /// Whether the page closed the `EventSource` itself after too many connections, rather
        /// than the browser closing it on a final answer.
        var gaveUp: Bool
    }

    /// What `tabs.html` shows: one report per tab.
    struct TabsReport: Decodable {
        var tabs: [ChatReport]
    }

    struct ConversationStats: Decodable {
        var starts: Int
    }

    /// The backend's completion: 20 tokens, one every 30 ms. `retry=100` makes the backend
    /// announce a 100 ms reconnection time, so the run without the relay reconnects as fast as
    /// the one through it (where the route's `retryMs` applies).
    static let streamQuery = "events=20&interval=30&retry=100"
    static let completion = (1...20).map { "token \($0) of c1" }
    /// The page gives up after this many connections; through the relay it needs 7.
    static let maxOpens = 10

    private func page(_ name: String) -> String {
        let stream = Self.streamQuery.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return "/browser/\(name)?conversation=c1&stream=\(stream)&maxOpens=\(Self.maxOpens)"
    }

    private func stats(_ backendPort: Int) async throws -> ConversationStats {
        let backend = try SocketAddress(ipAddress: "127.0.0.1", port: backendPort)
        let response = try await fetch(backend, .GET, "/api/conversation/c1/stats")
        return try JSONDecoder().decode(ConversationStats.self, from: Data(response.body.readableBytesView))
    }

    /// Runs `body` with a relay (and a backend of its own) behind a cutting proxy.
    private func withRelayBehindCuttingProxy<Result>(
        _ body: (CuttingProxy, _ backendPort: Int) async throws -> Result
    ) async throws -> Result {
        // The route's reconnection time, shortened from 2 s so the 7 reconnects take ~1 s.
        try await withRelay(dedicatedBackend: true, { $0.streams[0].retryMs = 100 }) { relay in
            let backend = try #require(relay.backend)
            let proxy = try await CuttingProxy.start(targetPort: try #require(relay.address.port))
            defer { proxy.stop() }
            return try await body(proxy, backend.port)
        }
    }

    @Test("without the relay, every reconnect starts the completion again: the transcript repeats")
    func withoutRelayTheTranscriptRepeats() async throws {
        let chromium = try HeadlessChromium.locate()
        let backend = try await BackendProcess.start()
        defer { backend.stop() }
        let proxy = try await CuttingProxy.start(targetPort: backend.port)
        defer { proxy.stop() }

        let report = try await chromium.report(ChatReport.self, from: try proxy.url(self.page("chat.html")))
        let starts = try await self.stats(backend.port).starts

        // The backend sends no ids, so each reconnect is a fresh request: a new completion,
        // its first tokens again, and the page never sees the end.
        #expect(starts > 1)
        #expect(starts == report.opens)
        #expect(report.tokens.filter { $0 == "token 1 of c1" }.count == starts)
        #expect(report.tokens != Self.completion)
        #expect(report.gaveUp)
        #expect(try await proxy.stats().statuses["204"] == nil)
    }

    @Test("through the relay, the transcript is the completion once, one upstream start, CLOSED by the 204")
    func throughRelayTheTranscriptIsExact() async throws {
        let chromium = try HeadlessChromium.locate()
        try await self.withRelayBehindCuttingProxy { proxy, backendPort in
            let report = try await chromium.report(ChatReport.self, from: try proxy.url(self.page("chat.html")))
            let proxyStats = try await proxy.stats()

            #expect(report.tokens == Self.completion)
            #expect(try await self.stats(backendPort).starts == 1)
            #expect(report.readyState == 2)
            #expect(!report.gaveUp)
            // Several cuts per completion, each resumed; then the one 204 that closed it.
            #expect(proxyStats.cuts >= 3)
            #expect(report.opens == proxyStats.cuts + 1)
            #expect(proxyStats.statuses["204"] == 1)
        }
    }

    @Test("two tabs on one conversation: one upstream start, identical transcripts, both CLOSED")
    func twoTabsShareOneCompletion() async throws {
        let chromium = try HeadlessChromium.locate()
        try await self.withRelayBehindCuttingProxy { proxy, backendPort in
            let report = try await chromium.report(TabsReport.self, from: try proxy.url(self.page("tabs.html")))

            #expect(report.tabs.count == 2)
            for tab in report.tabs {
                #expect(tab.tokens == Self.completion)
                #expect(tab.readyState == 2)
                #expect(!tab.gaveUp)
            }
            #expect(try await self.stats(backendPort).starts == 1)
            #expect(try await proxy.stats().statuses["204"] == 2)
        }
    }
}
