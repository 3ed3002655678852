import Foundation
import SSERelayCore

/// What one browser tab of the demo has seen so far: the transcript a chat UI would show, and
/// how the relay answered each of its requests.
struct DemoTab: Sendable {
    /// `A`, `B`: how the account names the tab.
    let name: String
    /// The words in the order they arrived, duplicates included: this is what a chat UI appends.
    private(set) var words: [String] = []
    /// The completions (numbered by the demo backend) the words came from.
    private(set) var completions: Set<Int> = []
    /// The id an `EventSource` would send as `Last-Event-ID` on its next request.
    var lastEventID: String?
    /// Per request: the relay's `X-SSE-Relay` verdict for a stream, or the status code otherwise.
    private(set) var answers: [String] = []

    init(name: String) {
        self.name = name
    }

    /// One frame of the demo backend: `{"completion": 1, "token": "Server-Sent"}`.
    private struct Frame: Decodable {
        var completion: Int
        var token: String
    }

    /// Adds the words of `events` to the transcript; returns them.
    mutating func append(_ events: [ServerSentEvent]) throws -> [String] {
        var words: [String] = []
        for event in events {
            guard let data = event.data, let frame = try? JSONDecoder().decode(Frame.self, from: Data(data.utf8))
            else {
                throw DemoScenarioError("an event the demo backend did not write: \(event.data ?? "no data")")
            }
            words.append(frame.token)
            self.completions.insert(frame.completion)
        }
        self.words += words
        return words
    }

    mutating func recordAnswer(_ answer: String) {
        self.answers.append(answer)
    }
}
