extension SubscriberCursor {
    /// How the upstream answered the generation's request.
    public enum Answer: Sendable, Hashable {
        /// `200 text/event-stream`: events follow.
        case stream
        /// Anything else: relayed as it is, and the response ends.
        case rejected
        /// No answer: the upstream could not be reached or was too slow.
        case failed
    }

    /// A batch read from the generation's log, as the cursor sees it: which events it holds,
    /// where its comments go, and where the log ends. The subscriber keeps the bytes; the
    /// cursor's actions name events and comments by their index in the batch.
    public struct Batch: Sendable, Hashable {
        /// The sequence numbers of the events read, in order from the cursor's position (the log
        /// hands out consecutive events).
        public var events: Range<Int>
        /// Comments numbered after the cursor's ``SubscriberCursor/commentsSeen``, in arrival
        /// order.
        public var comments: [Comment]
        /// The sequence number the generation's next event gets: the head of the log.
        public var nextSequence: Int
        /// Whether the upstream is still open: more events may come.
        public var isOpen: Bool
        /// How the responses end, once the upstream is over; `nil` while it is open, and after
        /// the generation was discarded.
        public var ending: GenerationEnding?

        public init(events: Range<Int>, comments: [Comment], nextSequence: Int, isOpen: Bool, ending: GenerationEnding?)
        {
            self.events = events
            self.comments = comments
            self.nextSequence = nextSequence
            self.isOpen = isOpen
            self.ending = ending
        }
    }

    /// A comment from the upstream, as the cursor places it among the events.
    public struct Comment: Sendable, Hashable {
        /// The sequence number the next event got when the comment arrived: the comment goes
        /// before that event.
        public var position: Int
        /// Counts the generation's comments from 1.
        public var number: Int

        public init(position: Int, number: Int) {
            self.position = position
            self.number = number
        }
    }
}
