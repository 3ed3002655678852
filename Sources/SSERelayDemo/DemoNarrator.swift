import NIOConcurrencyHelpers

/// Writes `sse-relay demo`'s account of what happens, one line at a time, each stamped with the
/// time since the scenario began and the tabs it is about:
///
/// ```
///   0.46s  B    GET /api/conversation/1/stream        200 joined: shares the running upstream stream
///   0.61s  A B  got #4     whenever
/// ```
///
/// An event that every tab with an open stream receives is told once, naming them all: the
/// account then reads like the fan-out it shows. Until the last of them has it, the line waits
/// (at most until the next line of the account); every other line goes out at once. Lines go
/// to `output` whole, so those of tabs running at the same time never mix.
public final class DemoNarrator: Sendable {
    /// An event line that waits for the other streaming tabs.
    private struct PendingDelivery {
        var label: String
        var words: String
        var tabs: [String]
        var stamp: String
    }

    private struct State {
        var pending: PendingDelivery?
        /// The tabs whose stream is open.
        var streaming: Set<String> = []
    }

    private let output: @Sendable (String) -> Void
    private let start: ContinuousClock.Instant
    /// A pthread-based lock rather than `Synchronization.Mutex`: ThreadSanitizer does not see
    /// `Mutex`'s futex on Linux, so it reported every access under it as a race.
    private let state = NIOLockedValueBox(State())

    /// - Parameter output: receives each line, without a line ending.
    public init(output: @escaping @Sendable (String) -> Void) {
        self.output = output
        self.start = .now
    }

    /// A line of the running account about `tab` (or about no tab in particular).
    func event(_ tab: String?, _ text: String) {
        let stamp = self.stamp()
        self.state.withLockedValue { state in
            self.flush(&state)
            self.output(self.line(stamp: stamp, tabs: tab.map { [$0] } ?? [], text))
        }
    }

    /// `tab` received events: `label` numbers them, `words` is what they say.
    func received(_ tab: String, label: String, words: String) {
        let stamp = self.stamp()
        self.state.withLockedValue { state in
            if var pending = state.pending, pending.label == label, pending.words == words,
                !pending.tabs.contains(tab)
            {
                pending.tabs.append(tab)
                state.pending = pending
            } else {
                self.flush(&state)
                state.pending = PendingDelivery(label: label, words: words, tabs: [tab], stamp: stamp)
            }
            if let pending = state.pending, state.streaming.allSatisfy(pending.tabs.contains) {
                self.flush(&state)
            }
        }
    }

    /// `tab`'s stream opened: its events are now expected with the others'.
    func streamOpened(_ tab: String) {
        self.state.withLockedValue { _ = $0.streaming.insert(tab) }
    }

    /// `tab`'s stream ended or dropped.
    func streamClosed(_ tab: String) {
        self.state.withLockedValue { state in
            _ = state.streaming.remove(tab)
        }
    }

    /// A line outside the running account: headings, results, instructions.
    func say(_ text: String = "") {
        self.state.withLockedValue { state in
            self.flush(&state)
            self.output(text)
        }
    }

    private func flush(_ state: inout State) {
        guard let pending = state.pending else { return }
        state.pending = nil
        self.output(
            self.line(
                stamp: pending.stamp, tabs: pending.tabs.sorted(),
                "got \(Self.pad(pending.label, to: 6)) \(pending.words)"))
    }

    private func line(stamp: String, tabs: [String], _ text: String) -> String {
        " \(Self.pad(stamp, to: 6, leading: true))  \(Self.pad(tabs.joined(separator: " "), to: 3))  \(text)"
    }

    /// The time since the start, as `0.46s`.
    private func stamp() -> String {
        let elapsed = ContinuousClock.now - self.start
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let centiseconds = (milliseconds + 5) / 10
        let fraction = String(centiseconds % 100)
        return "\(centiseconds / 100).\(String(repeating: "0", count: 2 - fraction.count))\(fraction)s"
    }

    /// `text` padded with spaces to `width` characters (on the left when `leading`), for columns.
    static func pad(_ text: String, to width: Int, leading: Bool = false) -> String {
        let spaces = String(repeating: " ", count: max(0, width - text.count))
        return leading ? spaces + text : text + spaces
    }
}
