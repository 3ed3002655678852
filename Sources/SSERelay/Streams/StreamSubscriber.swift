import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

/// One client of a generation, on the client's event loop: a cursor into the generation's
/// shared log, written as fast as the client's socket takes it (SPEC §3, §4).
///
/// It waits for the upstream's answer, writes the response head and the first block
/// (`retry:` and the priming id), then every event from its cursor on, then live events as
/// they come, and ends the response when the generation has ended and it has sent everything.
/// A client whose socket is full while it falls further behind the head than it was when it
/// joined, and more than `clientQueueBytes` behind, is dropped; it can resume from the buffer
/// with its last event id. Nothing is queued per client beyond the socket's own buffer.
final class StreamSubscriber {
    /// How the client came to this generation, for the `X-SSE-Relay` header and metrics.
    enum Mode: String {
        case started, joined, resumed
    }

    /// Events read from the log under one lock acquisition.
    private static let batchSize = 64

    let generation: Generation
    let mode: Mode
    /// Whether the client's `Last-Event-ID` matched nothing retained (for metrics).
    private let isReplayMiss: Bool
    /// Events the generation read before this moment are replayed to this client; later ones
    /// are live, and their delivery latency is measured.
    private let joinedAt = NIODeadline.now()
    private let group: SubscriberGroup
    private weak var writer: (any StreamResponseWriter)?
    private let request: HTTPRequestHead
    private let clientQueueBytes: Int
    private let eventLoop: any EventLoop
    private var cursor: Int
    /// Events written to this client, for `/streams`; the first one tells the generation it is
    /// worth lingering for.
    private var deliveredEvents = 0
    private var headSent = false
    private var isStopped = false
    private var lastWrite = NIODeadline.now()
    private var heartbeat: Scheduled<Void>?
    /// How far behind the head this client may be while its socket is full. It starts at the
    /// client's lag when it joined (a client catching up on the replay is not slow), shrinks as
    /// the client catches up, and never goes below `clientQueueBytes`.
    private var lagAllowance: Int?
    /// The number of the last comment this client was sent (or that arrived before it joined).
    private var commentsSeen: Int

    init(
        generation: Generation,
        cursor: Int,
        mode: Mode,
        isReplayMiss: Bool = false,
        request: HTTPRequestHead,
        writer: any StreamResponseWriter,
        clientQueueBytes: Int,
        eventLoop: any EventLoop
    ) {
        self.generation = generation
        self.cursor = cursor
        self.mode = mode
        self.isReplayMiss = isReplayMiss
        self.request = request
        self.writer = writer
        self.clientQueueBytes = clientQueueBytes
        self.eventLoop = eventLoop
        self.group = generation.group(for: eventLoop)
        self.commentsSeen = generation.commentsReceived
    }

    /// Joins the generation's group on this loop and sends what there is to send.
    func start() {
        self.generation.metrics.streamClientConnected()
        self.group.add(self)
        if let seconds = self.generation.route.heartbeatSeconds {
            self.scheduleHeartbeat(in: .fractionalSeconds(seconds))
        }
        self.generationDidChange()
    }

    /// Leaves the generation: the response ended or the client went away.
    func stop() {
        guard !self.isStopped else { return }
        self.isStopped = true
        self.generation.metrics.streamClientDisconnected()
        if !self.headSent {
            self.generation.metrics.record(.abandoned)
        }
        self.heartbeat?.cancel()
        self.group.remove(self)
        self.generation.clientLeft()
    }

    /// New events, the upstream's answer, comments, or the end: send what is due.
    func generationDidChange() {
        guard !self.isStopped, let writer = self.writer else { return }
        if !self.headSent {
            guard self.sendHead(writer) else { return }
        }
        if !self.isStopped {
            self.pull(writer)
        }
        if !self.isStopped {
            writer.flushStream()
        }
    }

    /// The client's socket drained.
    func writabilityChanged() {
        self.generationDidChange()
    }

    // MARK: Writing

    /// Writes the head once the upstream answered; returns whether events may follow.
    private func sendHead(_ writer: any StreamResponseWriter) -> Bool {
        guard let answer = self.generation.answer else { return false }
        self.headSent = true
        let route = self.generation.route
        switch answer {
        case .stream(let upstreamHead):
            self.generation.metrics.record(self.isReplayMiss ? .replayMiss : self.outcome)
            writer.writeStreamHead(
                StreamResponseHead.make(from: upstreamHead, request: self.request, route: route, mode: self.mode))
            let primingID = RelayEventID(generation: self.generation.token, sequence: self.cursor - 1).description
            let preamble = self.generation.writer.preamble(
                retryMs: route.retryMs, primingID: primingID, allocator: ByteBufferAllocator())
            writer.writeStreamBody(preamble)
            self.lastWrite = .now()
            return true
        case .rejected(let upstreamHead, let body):
            self.generation.metrics.record(.rejected)
            writer.writeStreamHead(
                StreamResponseHead.relayed(
                    upstreamHead, request: self.request, route: route, mode: self.mode))
            if body.readableBytes > 0 {
                writer.writeStreamBody(body)
            }
            self.finish()
            return false
        case .failed(let error):
            self.generation.metrics.record(.rejected)
            self.answerFailure(error, writer: writer)
            return false
        }
    }

    /// The upstream could not be reached: the route's failure answer (see
    /// ``StreamFailureAnswer``), with the public text of the failure.
    private func answerFailure(_ error: UpstreamError, writer: any StreamResponseWriter) {
        let answer = StreamFailureAnswer(
            request: self.request, route: self.generation.route,
            comment: "upstream unavailable: \(error.publicDetail)", status: error.status,
            keepAlive: self.request.isKeepAlive)
        writer.writeStreamHead(answer.head)
        writer.writeStreamBody(answer.body)
        self.finish()
    }

    /// Writes events from the cursor while the socket takes them, each comment that arrived
    /// since this client joined in its place among them (a comment that arrived together with
    /// events this client already took goes out at once), and ends the response when it
    /// reached the head of a generation whose upstream is over.
    private func pull(_ writer: any StreamResponseWriter) {
        var delivery = Delivery()
        defer { delivery.record(into: self.generation.metrics) }
        // Bounded: every pass either writes events, reaches the head, or leaves the loop.
        while writer.isWritable {
            guard
                let batch = self.group.batch(
                    of: self.generation, from: self.cursor, limit: Self.batchSize, commentsSeen: self.commentsSeen)
            else {
                self.drop("its position was evicted from the replay buffer", overQueueLimit: false)
                return
            }
            var comments = batch.comments[...]
            for entry in batch.entries {
                while let comment = comments.first, comment.position <= entry.sequence {
                    self.write(comment, writer)
                    comments = comments.dropFirst()
                }
                writer.writeStreamEvent(entry.chunk)
                self.lastWrite = .now()
                delivery.wrote(entry, joinedAt: self.joinedAt)
                if self.deliveredEvents == 0 {
                    self.generation.eventDelivered()
                }
                self.deliveredEvents += 1
                self.cursor = entry.sequence + 1
                if !writer.isWritable { break }
            }
            if self.cursor >= batch.nextSequence {
                for comment in comments {
                    self.write(comment, writer)
                }
                if !batch.isOpen {
                    let last = RelayEventID(generation: self.generation.token, sequence: batch.nextSequence - 1)
                    switch batch.ending {
                    case .finished:
                        writer.writeStreamBody(
                            self.generation.writer.endBlock(marker: last.endMarker, allocator: ByteBufferAllocator()))
                    case .failed(let failure):
                        writer.writeStreamBody(
                            self.generation.writer.failureBlock(
                                marker: last.failureMarker, reason: failure.rawValue, allocator: ByteBufferAllocator()))
                    case nil:
                        // Discarded while this client caught up: nothing more to say.
                        break
                    }
                    self.finish()
                }
                return
            }
        }
        guard let lag = self.generation.lag(from: self.cursor) else {
            self.drop("its position was evicted from the replay buffer", overQueueLimit: false)
            return
        }
        let allowance = self.lagAllowance ?? max(self.clientQueueBytes, lag)
        if lag > allowance {
            self.drop(
                "its socket is full and it lags \(lag) bytes behind (limits.clientQueueBytes \(self.clientQueueBytes))",
                overQueueLimit: true)
        } else {
            self.lagAllowance = max(self.clientQueueBytes, lag)
        }
    }

    private func write(_ comment: StreamComment, _ writer: any StreamResponseWriter) {
        self.commentsSeen = max(self.commentsSeen, comment.number)
        writer.writeStreamBody(comment.bytes)
        self.lastWrite = .now()
    }

    /// Checks at `delay` whether the client was sent nothing for `heartbeatSeconds`; if so,
    /// sends a `:` comment so intermediaries' idle timers never cut a quiet stream.
    private func scheduleHeartbeat(in delay: TimeAmount) {
        self.heartbeat = self.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            guard !self.isStopped, let seconds = self.generation.route.heartbeatSeconds else { return }
            let interval = TimeAmount.fractionalSeconds(seconds)
            let quiet = NIODeadline.now() - self.lastWrite
            guard quiet >= interval else {
                return self.scheduleHeartbeat(in: interval - quiet)
            }
            if self.headSent, let writer = self.writer {
                var beat = ByteBuffer()
                beat.writeBytes(EventStreamWriter.heartbeat)
                writer.writeStreamBody(beat)
                writer.flushStream()
                self.lastWrite = .now()
            }
            self.scheduleHeartbeat(in: interval)
        }
    }

    private func finish() {
        self.stop()
        self.writer?.finishStream()
    }

    /// Drops a client that fell too far behind: over `limits.clientQueueBytes`
    /// (`overQueueLimit`), or behind the oldest event its replay buffer still holds.
    private func drop(_ reason: String, overQueueLimit: Bool) {
        self.generation.logger.notice("dropping a slow stream client", metadata: ["reason": "\(reason)"])
        self.generation.metrics.slowClientDropped(overQueueLimit: overQueueLimit)
        self.stop()
        self.writer?.abortStream(reason: reason)
    }
}

extension StreamSubscriber {
    /// The outcome metric of a client served from a stream.
    private var outcome: RelayMetrics.StreamOutcome {
        switch self.mode {
        case .started: .started
        case .joined: .joined
        case .resumed: .resumed
        }
    }

    /// What one write pass delivered, counted into the metrics once at its end.
    private struct Delivery {
        var events = 0
        var replayed = 0
        /// When the newest live event written was read from the upstream.
        var newestLiveReceivedAt: NIODeadline?

        mutating func wrote(_ entry: ReplayBuffer.Entry, joinedAt: NIODeadline) {
            self.events += 1
            if entry.receivedAt < joinedAt {
                self.replayed += 1
            } else {
                self.newestLiveReceivedAt = entry.receivedAt
            }
        }

        func record(into metrics: RelayMetrics) {
            guard self.events > 0 else { return }
            let latency = self.newestLiveReceivedAt.map { receivedAt in
                Duration.nanoseconds((NIODeadline.now() - receivedAt).nanoseconds)
            }
            metrics.recordDelivery(events: self.events, replayed: self.replayed, latency: latency)
        }
    }
}

extension StreamSubscriber {
    /// This client as `/streams` shows it; call on the client's loop.
    func report(now: NIODeadline) -> StreamClientReport {
        StreamClientReport(
            remoteAddress: self.writer?.clientAddress,
            mode: self.mode.rawValue,
            connectedSeconds: Double((now - self.joinedAt).nanoseconds) / 1e9,
            deliveredEvents: self.deliveredEvents,
            queuedBytes: self.writer?.queuedBytes ?? 0,
            lagBytes: self.generation.lag(from: self.cursor)
        )
    }
}
