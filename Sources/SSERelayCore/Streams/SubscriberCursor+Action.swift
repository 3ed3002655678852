extension SubscriberCursor {
    /// What the subscriber does after an input. Every write is followed by
    /// ``SubscriberCursor/nextAction(isWritable:now:)``, until an action that ends the pass.
    public enum Action: Sendable, Hashable {
        /// Nothing: the upstream has not answered yet, or the response is over.
        case none
        /// Write the stream's response head and its first block: the route's `retry:` and
        /// `id: primingID` (see ``EventStreamWriter/preamble(retryMs:primingID:allocator:)``).
        case writeStreamHead(primingID: String)
        /// Write the upstream's own answer, which is not an event stream, as it is; `finish`
        /// follows.
        case writeRejection
        /// Write the route's answer to an upstream that could not be reached; `finish` follows.
        case writeFailureAnswer
        /// Read events from sequence `from` on (a batch of them) and the comments numbered
        /// after `commentsSeen`, and hand them to ``SubscriberCursor/batchRead(_:now:)``.
        case readBatch(from: Int, commentsSeen: Int)
        /// Write the comment at `index` in the batch.
        case writeComment(index: Int)
        /// Write the event at `index` in the batch. `isFirst` marks the first event this client
        /// was sent: from then on its generation is worth lingering for.
        case writeEvent(index: Int, isFirst: Bool)
        /// Write the id-only block with the end `marker` (see
        /// ``EventStreamWriter/endBlock(marker:allocator:)``); `finish` follows.
        case writeEndBlock(marker: String)
        /// Write the failure event with the failure `marker` (see
        /// ``EventStreamWriter/failureBlock(marker:reason:allocator:)``); `finish` follows.
        case writeFailureBlock(marker: String, failure: GenerationFailure)
        /// The socket is full: measure the bytes from sequence `from` to the head and hand them
        /// to ``SubscriberCursor/socketFull(lag:)``.
        case measureLag(from: Int)
        /// The pass is over: flush what was written and wait for the generation to change or
        /// the socket to drain.
        case flush
        /// The response is complete: end it and leave the generation.
        case finish
        /// The client is too far behind: close the connection without completing the response,
        /// and leave the generation.
        case drop(DropReason)
    }

    /// What the subscriber does when the client leaves.
    public enum StopAction: Sendable, Hashable {
        /// Nothing: it left already.
        case none
        /// Leave the generation. `abandoned`: the client went away before the upstream
        /// answered, so it was never answered.
        case leave(abandoned: Bool)
    }

    /// Why a client is dropped.
    public enum DropReason: Sendable, Hashable, CustomStringConvertible {
        /// Its position was evicted from the replay buffer: it lost events.
        case evicted
        /// Its socket is full and it lags `lag` bytes behind the head, beyond its allowance and
        /// `limits.clientQueueBytes`.
        case overQueueLimit(lag: Int, clientQueueBytes: Int)

        /// Whether the client went over `limits.clientQueueBytes`, for the metrics.
        public var isOverQueueLimit: Bool {
            switch self {
            case .evicted: false
            case .overQueueLimit: true
            }
        }

        /// The reason as the log and the connection's abort say it.
        public var description: String {
            switch self {
            case .evicted:
                "its position was evicted from the replay buffer"
            case .overQueueLimit(let lag, let clientQueueBytes):
                "its socket is full and it lags \(lag) bytes behind (limits.clientQueueBytes \(clientQueueBytes))"
            }
        }
    }
}
