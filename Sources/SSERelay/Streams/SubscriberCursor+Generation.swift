import SSERelayCore

extension Generation.Answer {
    /// The answer as the cursor sees it: its kind, without the bytes.
    var kind: SubscriberCursor.Answer {
        switch self {
        case .stream: .stream
        case .rejected: .rejected
        case .failed: .failed
        }
    }
}

extension SubscriberCursor.Batch {
    /// What the cursor needs of a batch read from `position`: the events' sequence numbers,
    /// where each comment goes, and where the log ends.
    init(_ batch: Generation.Batch, from position: Int) {
        let first = batch.entries.first?.sequence ?? position
        self.init(
            events: first..<(first + batch.entries.count),
            comments: batch.comments.map { SubscriberCursor.Comment(position: $0.position, number: $0.number) },
            nextSequence: batch.nextSequence, isOpen: batch.isOpen, ending: batch.ending)
    }
}
