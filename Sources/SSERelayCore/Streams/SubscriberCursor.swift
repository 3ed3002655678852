public import NIOCore

/// One stream client's position in its generation's shared log, and every decision about what
/// the client is sent, as a value: each input returns the ``Action`` the subscriber carries
/// out (writes, timers, metrics), so every rule is testable without sockets and with a fake
/// clock.
///
/// ```
/// awaitingAnswer ──event stream──▶ streaming ──at the head of an ended generation──▶ closing ──finish──▶ closed
///       │                           │   ▲  read a batch, write its comments and events,          ▲
///       │                           │   └──measure the lag when the socket is full                │
///       │                           └──position evicted, or too far behind with a full socket──drop─┤
///       └──rejected or failed──▶ closing (the answer is written) ──finish────────────────────────────┘
/// any state ──stop──▶ stopped
/// ```
///
/// **The head.** Nothing is written before the upstream answers. An event stream gets the
/// response head and the first block, whose priming id names the position before the cursor
/// (`<token>-<position − 1>`), so a client that drops before its first event still reconnects
/// with a `Last-Event-ID`. Any other answer is written once and the response ends.
///
/// **A write pass** starts when the generation changes or the socket drains
/// (``nextAction(isWritable:now:)``). While the socket takes bytes, the cursor asks for a batch
/// of events from its position (``Action/readBatch(from:commentsSeen:)``) and writes it; the
/// socket is asked again after every event, not after comments. The pass ends flushed at the
/// head of the log, or with the lag measured when the socket is full.
///
/// **Comments** go only to clients that were connected when they arrived (the count a client
/// starts with is the generation's count when it joined), each in its place among the events:
/// before the first event whose sequence is at least its position, the sequence the next event
/// got when the comment arrived. A comment whose position the client has already passed goes
/// out before its next event, or at once at the head. Comments left in a batch the socket cut
/// short are read again with the next batch.
///
/// **The end.** At the head of a generation whose upstream is over, the client gets the
/// remaining comments, then the end block (id `<token>-<last>.end`) or the failure event (id
/// `<token>-<last>.failed`), `<last>` being the sequence of the generation's last event; a
/// generation discarded while the client caught up ends with nothing more.
///
/// **Slow clients.** Nothing is queued per client beyond the socket's own buffer. When the
/// socket is full the cursor measures its lag, the bytes from its position to the head: it
/// may lag up to its allowance, which starts at the larger of `clientQueueBytes` and the lag at
/// the first full socket (a client catching up on the replay is not slow), shrinks to the lag
/// each time the socket is full again, and never goes below `clientQueueBytes`. A client over
/// it, or whose position was evicted from the replay buffer, is dropped; it can resume from
/// the buffer with its last event id.
///
/// **Heartbeats.** A client sent nothing for `heartbeatInterval` gets a `:` comment, so
/// intermediaries' idle timers never cut a quiet stream; a check that finds the client written
/// to more recently comes back when the interval since that write is over.
public struct SubscriberCursor: Sendable {
    enum State: Sendable, Hashable {
        /// The upstream has not answered yet: nothing is written.
        case awaitingAnswer
        /// The head is written; events follow.
        case streaming
        /// The response's last bytes are handed out: finish next.
        case closing
        /// Finish or drop is handed out: only ``SubscriberCursor/stop()`` is left.
        case closed
        /// The client left the generation; no input does anything any more.
        case stopped
    }

    /// The batch being written, and how far.
    struct BatchProgress: Sendable, Hashable {
        var batch: Batch
        /// The index of the next event to write.
        var nextEvent = 0
        /// The index of the next comment to write.
        var nextComment = 0
        /// Whether the last write was an event: the socket is asked after each event.
        var asksSocket = false
        /// Whether the socket filled before the batch's events were all written.
        var isCut = false
    }

    /// The generation's token, which the ids the cursor hands out start with.
    public let generationToken: String
    /// `limits.clientQueueBytes`: how far behind the head a client with a full socket may
    /// always be.
    public let clientQueueBytes: Int
    /// The route's `heartbeatSeconds`; `nil` sends no heartbeats.
    public let heartbeatInterval: TimeAmount?
    /// The sequence number of the next event the client is to receive.
    public private(set) var position: Int
    /// The number of the last comment the client was sent, or that arrived before it joined.
    public private(set) var commentsSeen: Int
    /// Events written to the client.
    public private(set) var deliveredEvents = 0
    /// When the client was last written to (or when it joined).
    public internal(set) var lastWrite: NIODeadline
    /// How far behind the head the client may be while its socket is full; `nil` until its
    /// socket was first full.
    public private(set) var lagAllowance: Int?
    var state = State.awaitingAnswer
    var progress: BatchProgress?

    /// - Parameters:
    ///   - position: The sequence number of the first event the client is to receive.
    ///   - commentsSeen: How many comments the generation received before the client joined.
    ///   - now: When the client joined: the heartbeat's quiet time counts from here.
    public init(
        generationToken: String, position: Int, commentsSeen: Int, clientQueueBytes: Int,
        heartbeatInterval: TimeAmount?, now: NIODeadline
    ) {
        self.generationToken = generationToken
        self.position = position
        self.commentsSeen = commentsSeen
        self.clientQueueBytes = clientQueueBytes
        self.heartbeatInterval = heartbeatInterval
        self.lastWrite = now
    }

    /// Whether the upstream's answer is still to be written.
    public var isAwaitingAnswer: Bool { self.state == .awaitingAnswer }

    /// Whether the client left the generation.
    public var isStopped: Bool { self.state == .stopped }

    // MARK: Inputs

    /// The upstream answered (see ``Answer``): what to write first. `.none` once answered.
    public mutating func upstreamAnswered(_ answer: Answer, now: NIODeadline) -> Action {
        guard self.state == .awaitingAnswer else { return .none }
        switch answer {
        case .stream:
            self.state = .streaming
            self.lastWrite = now
            let priming = RelayEventID(generation: self.generationToken, sequence: self.position - 1)
            return .writeStreamHead(primingID: priming.description)
        case .rejected:
            self.state = .closing
            return .writeRejection
        case .failed:
            self.state = .closing
            return .writeFailureAnswer
        }
    }

    /// What to do next in a write pass: at its start (the generation changed, the socket
    /// drained), and after every write. `isWritable` is whether the client's socket takes more
    /// bytes now; `now` is when the write the action asks for happens.
    public mutating func nextAction(isWritable: Bool, now: NIODeadline) -> Action {
        switch self.state {
        case .awaitingAnswer, .closed, .stopped:
            return .none
        case .closing:
            self.state = .closed
            return .finish
        case .streaming:
            if var progress = self.progress, progress.asksSocket {
                progress.asksSocket = false
                progress.isCut = !isWritable
                self.progress = progress
            }
            if let action = self.writeNext(now: now) {
                return action
            }
            // Between batches: read on while the socket takes bytes, else see how far behind the
            // client is.
            guard isWritable else { return .measureLag(from: self.position) }
            return .readBatch(from: self.position, commentsSeen: self.commentsSeen)
        }
    }

    /// The batch ``Action/readBatch(from:commentsSeen:)`` asked for, or `nil` when the log no
    /// longer holds the cursor's position: what to write first.
    public mutating func batchRead(_ batch: Batch?, now: NIODeadline) -> Action {
        guard self.state == .streaming else { return .none }
        guard let batch else { return self.drop(.evicted) }
        self.progress = BatchProgress(batch: batch)
        // A batch behind the head always holds events: one without means the log lost them.
        return self.writeNext(now: now) ?? self.drop(.evicted)
    }

    /// The socket is full (after ``Action/measureLag(from:)``): `lag` is the bytes from the
    /// cursor's position to the head, `nil` when the position was evicted. Drops a client
    /// beyond its allowance, else shrinks the allowance to its lag and ends the pass.
    public mutating func socketFull(lag: Int?) -> Action {
        guard self.state == .streaming else { return .none }
        guard let lag else { return self.drop(.evicted) }
        let allowance = self.lagAllowance ?? max(self.clientQueueBytes, lag)
        guard lag <= allowance else {
            return self.drop(.overQueueLimit(lag: lag, clientQueueBytes: self.clientQueueBytes))
        }
        self.lagAllowance = max(self.clientQueueBytes, lag)
        return .flush
    }

    /// The client leaves the generation: the response ended or the client went away.
    public mutating func stop() -> StopAction {
        switch self.state {
        case .stopped:
            return .none
        case .awaitingAnswer:
            self.state = .stopped
            return .leave(abandoned: true)
        case .streaming, .closing, .closed:
            self.state = .stopped
            self.progress = nil
            return .leave(abandoned: false)
        }
    }

    // MARK: Writing a batch

    /// The next write of the batch in progress, or the end of the pass at the head; `nil`
    /// when the batch is done behind the head, and the pass goes on between batches.
    private mutating func writeNext(now: NIODeadline) -> Action? {
        guard var progress = self.progress else { return nil }
        let batch = progress.batch
        if !progress.isCut, progress.nextEvent < batch.events.count {
            let sequence = batch.events.lowerBound + progress.nextEvent
            if progress.nextComment < batch.comments.count, batch.comments[progress.nextComment].position <= sequence {
                return self.writeComment(&progress, now: now)
            }
            let index = progress.nextEvent
            progress.nextEvent += 1
            progress.asksSocket = true
            self.progress = progress
            self.position = sequence + 1
            self.deliveredEvents += 1
            self.lastWrite = now
            return .writeEvent(index: index, isFirst: self.deliveredEvents == 1)
        }
        guard self.position >= batch.nextSequence else {
            self.progress = nil
            return nil
        }
        if progress.nextComment < batch.comments.count {
            return self.writeComment(&progress, now: now)
        }
        self.progress = nil
        return self.reachedHead(of: batch)
    }

    private mutating func writeComment(_ progress: inout BatchProgress, now: NIODeadline) -> Action {
        let index = progress.nextComment
        progress.nextComment += 1
        self.progress = progress
        self.commentsSeen = max(self.commentsSeen, progress.batch.comments[index].number)
        self.lastWrite = now
        return .writeComment(index: index)
    }

    /// The client has every event the log holds: wait for more, or end the response.
    private mutating func reachedHead(of batch: Batch) -> Action {
        guard !batch.isOpen else { return .flush }
        let last = RelayEventID(generation: self.generationToken, sequence: batch.nextSequence - 1)
        switch batch.ending {
        case .finished:
            self.state = .closing
            return .writeEndBlock(marker: last.endMarker)
        case .failed(let failure):
            self.state = .closing
            return .writeFailureBlock(marker: last.failureMarker, failure: failure)
        case nil:
            // Discarded while this client caught up: nothing more to say.
            self.state = .closed
            return .finish
        }
    }

    private mutating func drop(_ reason: DropReason) -> Action {
        self.state = .closed
        self.progress = nil
        return .drop(reason)
    }
}
