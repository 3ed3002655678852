public import NIOCore
import NIOHTTP1
public import NIOPosix
import SSERelayCore

/// The scripted tour of `sse-relay demo`: two browser tabs of a chat app stream one answer
/// through the relay while ``DemoNarrator`` tells what each receives, as it arrives.
///
/// 1. Tab A opens the conversation: the relay starts the one upstream stream.
/// 2. Once A has 3 words, tab B opens the same conversation: it joins A's stream and gets the
///    answer from the start.
/// 3. Once A has 6 words, A's connection drops. A reconnects with `Last-Event-ID`, as an
///    `EventSource` does, and resumes after its last word.
/// 4. When the answer is over, each tab reconnects once more (an `EventSource` reconnects
///    whenever a stream ends) and gets `204 No Content`, which makes it stop.
///
/// Every step waits for what the clients received, not for time, so the outcome is the same on
/// any machine: B joins a stream that is still running as long as the backend's answer takes
/// longer than B's request. The demo backend's counter tells how many completions it started.
public struct DemoScenario: Sendable {
    private let relay: SocketAddress
    private let backend: DemoBackend
    private let conversation: String
    private let narrator: DemoNarrator
    private let group: any EventLoopGroup

    /// The words A reads before B opens the conversation, and before A's connection drops.
    static let wordsBeforeJoin = 3
    static let wordsBeforeDrop = 6

    public init(
        relay: SocketAddress,
        backend: DemoBackend,
        conversation: String = "1",
        narrator: DemoNarrator,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.relay = relay
        self.backend = backend
        self.conversation = conversation
        self.narrator = narrator
        self.group = group
    }

    private var path: String { "/api/conversation/\(self.conversation)/stream" }

    /// Runs the scenario and prints its account; returns what the tabs and the backend saw.
    public func run() async throws -> DemoScenarioOutcome {
        self.narrator.say(
            "Scenario: a chat page open in two tabs, A and B, streams the answer of conversation \(self.conversation).")
        let (joined, joinedSignal) = AsyncStream.makeStream(of: Void.self)
        let (tabA, tabB) = try await withThrowingTaskGroup(of: DemoTab.self) { tasks in
            var tab = try await self.request(DemoTab(name: "A")) { stream, tab in
                try await self.read(stream, into: &tab, until: Self.wordsBeforeJoin)
                tasks.addTask {
                    defer { joinedSignal.finish() }
                    let tab = try await self.request(DemoTab(name: "B")) { stream, tab in
                        joinedSignal.yield()
                        try await self.read(stream, into: &tab, until: .max)
                    }
                    return try await self.reconnectAfterEnd(tab)
                }
                // Bounded: B's task yields once or finishes.
                for await _ in joined { break }
                try await self.read(stream, into: &tab, until: Self.wordsBeforeDrop)
                self.narrator.event("A", "loses its connection (the demo closes it mid-stream)")
            }
            tab = try await self.request(tab) { stream, tab in
                try await self.read(stream, into: &tab, until: .max)
            }
            tab = try await self.reconnectAfterEnd(tab)
            guard let tabB = try await tasks.next() else {
                throw DemoScenarioError("tab B never reported")
            }
            return (tab, tabB)
        }
        let outcome = DemoScenarioOutcome(
            upstreamStreams: self.backend.completionsStarted(conversation: self.conversation),
            requests: tabA.answers.count + tabB.answers.count,
            transcripts: ["A": tabA.words, "B": tabB.words],
            answers: ["A": tabA.answers, "B": tabB.answers]
        )
        self.summarize(outcome, tabs: [tabA, tabB])
        return outcome
    }

    /// Sends one stream request for `tab` (with its last event id, if it has one), tells how
    /// the relay answered, and lets `read` read the answer.
    private func request(
        _ tab: DemoTab,
        _ read: (DemoEventStream, inout DemoTab) async throws -> Void
    ) async throws -> DemoTab {
        try Task.checkCancellation()
        let request = tab.lastEventID.map { "GET with Last-Event-ID: \($0)" } ?? "GET \(self.path)"
        return try await DemoEventStream.open(
            self.relay, path: self.path, lastEventID: tab.lastEventID, group: self.group
        ) { stream in
            var tab = tab
            let answer = self.answer(stream.head)
            tab.recordAnswer(answer.verdict)
            self.narrator.event(tab.name, "\(DemoNarrator.pad(request, to: 50)) \(answer.account)")
            if stream.head.status == .ok {
                self.narrator.streamOpened(tab.name)
            }
            defer { self.narrator.streamClosed(tab.name) }
            try await read(stream, &tab)
            tab.lastEventID = stream.lastEventID
            return tab
        }
    }

    /// An `EventSource` reconnects when a stream ends; the relay's `204` is what stops it.
    private func reconnectAfterEnd(_ tab: DemoTab) async throws -> DemoTab {
        try await self.request(tab) { stream, tab in
            // Read like any answer, so a repeated answer would show in the transcript.
            try await self.read(stream, into: &tab, until: .max)
        }
    }

    /// The relay's verdict on a request, and how the account puts it.
    private func answer(_ head: HTTPResponseHead) -> (verdict: String, account: String) {
        guard head.status == .ok else {
            let verdict = String(head.status.code)
            let meaning =
                head.status == .noContent
                ? "No Content: nothing left, so EventSource stops reconnecting" : head.status.reasonPhrase
            return (verdict, "\(verdict) \(meaning)")
        }
        let verdict = head.headers.first(name: "X-SSE-Relay") ?? "?"
        let meaning =
            switch verdict {
            case "started": "the relay starts the upstream stream"
            case "joined": "shares the running upstream stream, from its start"
            case "resumed": "the rest, from the relay's buffer: no new upstream stream"
            default: "(X-SSE-Relay: \(verdict))"
            }
        return (verdict, "200 \(verdict): \(meaning)")
    }

    /// Reads until `tab` holds `count` words or the response ends, telling each arrival.
    private func read(_ stream: DemoEventStream, into tab: inout DemoTab, until count: Int) async throws {
        // Bounded by the stream: each pass consumes at least one event, and the answer ends.
        while tab.words.count < count, let events = try await stream.nextEvents() {
            let words = try tab.append(events)
            let numbers = events.compactMap { $0.upstreamID.flatMap(RelayEventID.init(parsing:))?.sequence }
            let first = numbers.first.map { "#\($0)" } ?? "#?"
            let label = numbers.count > 1 ? "\(first)-\(numbers.last ?? 0)" : first
            self.narrator.received(tab.name, label: label, words: words.joined(separator: " "))
        }
        if tab.words.count < count, stream.head.status == .ok {
            self.narrator.event(tab.name, "end of the stream")
        }
    }

    private func summarize(_ outcome: DemoScenarioOutcome, tabs: [DemoTab]) {
        let starts = outcome.upstreamStreams
        self.narrator.say()
        self.narrator.say(
            "\(outcome.requests) requests from the two tabs; the backend started \(starts) "
                + "completion\(starts == 1 ? "" : "s") (without the relay, each request starts one).")
        let answer = DemoBackend.completion
        if tabs.allSatisfy({ $0.words == answer && $0.completions.count == 1 }) {
            let from = tabs.first?.completions.first.map { " from completion \($0)" } ?? ""
            self.narrator.say("Both tabs show the answer exactly once,\(from):")
            self.narrator.say("  \"\(answer.joined(separator: " "))\"")
        } else {
            for tab in tabs {
                let from = tab.completions.sorted().map(String.init).joined(separator: ", ")
                self.narrator.say(
                    "  \(tab.name) shows \(tab.words.count) words from completion(s) \(from), not the answer once: "
                        + "\"\(tab.words.joined(separator: " "))\"")
            }
        }
    }
}
