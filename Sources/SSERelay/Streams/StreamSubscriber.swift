import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

/// One client of a generation, on the client's event loop: it carries out what its
/// ``SubscriberCursor`` decides (writes, the heartbeat timer, metrics, logs).
///
/// The cursor holds the client's position in the generation's shared log and every rule about
/// what the client is sent: the head once the upstream answered, events and comments in order
/// as fast as the socket takes them, the block that ends the response, dropping a client that
/// falls too far behind, and heartbeats on a quiet stream. Nothing is queued per client beyond
/// the socket's own buffer.
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
    /// are live, and their delivery latency is measured. Read from the system clock, as the
    /// events' `receivedAt` is.
    private let joinedAt = NIODeadline.now()
    private let group: SubscriberGroup
    private weak var writer: (any StreamResponseWriter)?
    private let request: HTTPRequestHead
    /// The client's loop, whose clock (``EventLoop/now``) times the cursor's writes and
    /// heartbeats, as it times the heartbeat timer.
    private let eventLoop: any EventLoop
    private var cursor: SubscriberCursor
    private var heartbeat: Scheduled<Void>?

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
        self.mode = mode
        self.isReplayMiss = isReplayMiss
        self.request = request
        self.writer = writer
        self.eventLoop = eventLoop
        self.group = generation.group(for: eventLoop)
        self.cursor = SubscriberCursor(
            generationToken: generation.token, position: cursor, commentsSeen: generation.commentsReceived,
            clientQueueBytes: clientQueueBytes,
            heartbeatInterval: generation.route.heartbeatSeconds.map(TimeAmount.fractionalSeconds),
            now: eventLoop.now)
    }

    /// Joins the generation's group on this loop and sends what there is to send.
    func start() {
        self.generation.metrics.streamClientConnected()
        self.group.add(self)
        self.perform(self.cursor.firstHeartbeatCheck)
        self.generationDidChange()
    }

    /// Leaves the generation: the response ended or the client went away.
    func stop() {
        guard case .leave(let abandoned) = self.cursor.stop() else { return }
        self.generation.metrics.streamClientDisconnected()
        if abandoned {
            self.generation.metrics.record(.abandoned)
        }
        self.heartbeat?.cancel()
        self.group.remove(self)
        self.generation.clientLeft()
    }

    /// New events, the upstream's answer, comments, or the end: send what is due.
    func generationDidChange() {
        guard !self.cursor.isStopped, let writer = self.writer else { return }
        if self.cursor.isAwaitingAnswer {
            guard let answer = self.generation.answer else { return }
            self.write(answer, writer)
        }
        self.writePass(writer)
    }

    /// The client's socket drained.
    func writabilityChanged() {
        self.generationDidChange()
    }

    // MARK: Carrying out the cursor's actions

    /// Writes what the upstream's answer calls for: the stream's head and first block, the
    /// upstream's own answer, or the route's failure answer (see ``StreamFailureAnswer``) with
    /// the public text of the failure.
    private func write(_ answer: Generation.Answer, _ writer: any StreamResponseWriter) {
        let route = self.generation.route
        switch (self.cursor.upstreamAnswered(answer.kind, now: self.eventLoop.now), answer) {
        case (.writeStreamHead(let primingID), .stream(let answerHead)):
            self.generation.metrics.record(self.isReplayMiss ? .replayMiss : self.outcome)
            writer.writeStreamHead(
                StreamResponseHead.make(from: answerHead, request: self.request, route: route, mode: self.mode))
            writer.writeStreamBody(
                self.generation.writer.preamble(
                    retryMs: route.retryMs, primingID: primingID, allocator: ByteBufferAllocator()))
        case (.writeRejection, .rejected(let upstreamHead, let body)):
            self.generation.metrics.record(.rejected)
            writer.writeStreamHead(
                StreamResponseHead.relayed(upstreamHead, request: self.request, route: route, mode: self.mode))
            if body.readableBytes > 0 {
                writer.writeStreamBody(body)
            }
        case (.writeFailureAnswer, .failed(let error)):
            self.generation.metrics.record(.rejected)
            let failure = StreamFailureAnswer(
                request: self.request, route: route, comment: "upstream unavailable: \(error.publicDetail)",
                status: error.status, keepAlive: self.request.isKeepAlive)
            writer.writeStreamHead(failure.head)
            writer.writeStreamBody(failure.body)
        default:
            // The cursor answers each kind of answer with its own action, and only once.
            return
        }
    }

    /// Carries out the cursor's actions until the pass ends: flushed at the head or with a
    /// full socket, finished, or dropped. Bounded: every batch read is written or cut short by
    /// a full socket, and a full socket ends the pass.
    private func writePass(_ writer: any StreamResponseWriter) {
        var delivery = Delivery()
        defer { delivery.record(into: self.generation.metrics) }
        var batch: Generation.Batch?
        var action = self.cursor.nextAction(isWritable: writer.isWritable, now: self.eventLoop.now)
        while true {
            switch action {
            case .readBatch(let from, let commentsSeen):
                batch = self.group.batch(
                    of: self.generation, from: from, limit: Self.batchSize, commentsSeen: commentsSeen)
                action = self.cursor.batchRead(
                    batch.map { SubscriberCursor.Batch($0, from: from) }, now: self.eventLoop.now)
                continue
            case .measureLag(let from):
                action = self.cursor.socketFull(lag: self.generation.lag(from: from))
                continue
            case .writeComment(let index):
                if let comment = batch?.comments[index] {
                    writer.writeStreamBody(comment.bytes)
                }
            case .writeEvent(let index, let isFirst):
                if let entry = batch?.entries[index] {
                    writer.writeStreamEvent(entry.chunk)
                    delivery.wrote(entry, joinedAt: self.joinedAt)
                }
                if isFirst {
                    self.generation.eventDelivered()
                }
            case .writeEndBlock(let marker):
                writer.writeStreamBody(
                    self.generation.writer.endBlock(marker: marker, allocator: ByteBufferAllocator()))
            case .writeFailureBlock(let marker, let failure):
                writer.writeStreamBody(
                    self.generation.writer.failureBlock(
                        marker: marker, reason: failure.rawValue, allocator: ByteBufferAllocator()))
            case .flush:
                writer.flushStream()
                return
            case .finish:
                self.stop()
                writer.finishStream()
                return
            case .drop(let reason):
                self.drop(reason, writer)
                return
            case .none, .writeStreamHead, .writeRejection, .writeFailureAnswer:
                return
            }
            action = self.cursor.nextAction(isWritable: writer.isWritable, now: self.eventLoop.now)
        }
    }

    /// Drops a client that fell too far behind: over `limits.clientQueueBytes`, or behind the
    /// oldest event its replay buffer still holds.
    private func drop(_ reason: SubscriberCursor.DropReason, _ writer: any StreamResponseWriter) {
        self.generation.logger.notice("dropping a slow stream client", metadata: ["reason": "\(reason)"])
        self.generation.metrics.slowClientDropped(overQueueLimit: reason.isOverQueueLimit)
        self.stop()
        writer.abortStream(reason: reason.description)
    }

    /// Carries out a heartbeat decision: the next check's timer, and the `:` comment itself.
    private func perform(_ action: SubscriberCursor.HeartbeatAction) {
        switch action {
        case .none:
            return
        case .scheduleCheck(let delay):
            self.scheduleHeartbeatCheck(in: delay)
        case .sendHeartbeat(let nextCheck):
            if let writer = self.writer {
                var beat = ByteBuffer()
                beat.writeBytes(EventStreamWriter.heartbeat)
                writer.writeStreamBody(beat)
                writer.flushStream()
            }
            self.scheduleHeartbeatCheck(in: nextCheck)
        }
    }

    private func scheduleHeartbeatCheck(in delay: TimeAmount) {
        self.heartbeat = self.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.perform(self.cursor.heartbeatCheck(now: self.eventLoop.now))
        }
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
}

extension StreamSubscriber {
    /// This client as it stands; call on the client's loop.
    func inspect(now: NIODeadline) -> GenerationInspection.Client {
        GenerationInspection.Client(
            remoteAddress: self.writer?.clientAddress,
            mode: self.mode,
            connected: now - self.joinedAt,
            deliveredEvents: self.cursor.deliveredEvents,
            queuedBytes: self.writer?.queuedBytes ?? 0,
            lagBytes: self.generation.lag(from: self.cursor.position)
        )
    }
}
