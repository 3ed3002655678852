import NIOCore
import Testing

@testable import SSERelayCore

@Suite("SubscriberCursor")
struct SubscriberCursorTests {
    typealias Cursor = SubscriberCursor

    static let token = "00c0ffee00c0ffee"
    /// The fake clock's start: the client joins at this moment.
    static let joined = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    /// A cursor whose upstream answered with an event stream.
    static func streaming(
        position: Int = 1, commentsSeen: Int = 0, clientQueueBytes: Int = 1000, heartbeat: TimeAmount? = nil,
        now: NIODeadline = joined
    ) -> Cursor {
        var cursor = Cursor(
            generationToken: Self.token, position: position, commentsSeen: commentsSeen,
            clientQueueBytes: clientQueueBytes, heartbeatInterval: heartbeat, now: Self.joined)
        #expect(
            cursor.upstreamAnswered(.stream, now: now)
                == .writeStreamHead(primingID: "\(Self.token)-\(position - 1)"))
        return cursor
    }

    // MARK: - A fake log and socket

    /// A generation's log as a test builds it: every event `eventBytes` long.
    struct Log {
        var firstSequence = 1
        var nextSequence = 1
        var comments: [Cursor.Comment] = []
        var isOpen = true
        var ending: GenerationEnding?
        var eventBytes = 100
        /// The most events one read hands out.
        var batchLimit = 64

        /// Builds a log from a script: `e` appends an event, `c` a comment.
        init(_ script: String = "", batchLimit: Int = 64) {
            self.batchLimit = batchLimit
            self.append(script)
        }

        mutating func append(_ script: String) {
            for step in script.split(separator: " ") {
                switch step {
                case "e":
                    self.nextSequence += 1
                case "c":
                    self.comments.append(Cursor.Comment(position: self.nextSequence, number: self.comments.count + 1))
                default:
                    Issue.record("unknown step \(step)")
                }
            }
        }

        /// The upstream is over: `ending`, or `nil` for a generation discarded since.
        mutating func end(_ ending: GenerationEnding?) {
            self.isOpen = false
            self.ending = ending
        }

        func batch(from position: Int, commentsSeen: Int) -> Cursor.Batch? {
            guard position >= self.firstSequence else { return nil }
            let end = max(position, min(self.nextSequence, position + self.batchLimit))
            return Cursor.Batch(
                events: position..<end, comments: self.comments.filter { $0.number > commentsSeen },
                nextSequence: self.nextSequence, isOpen: self.isOpen, ending: self.ending)
        }

        func lag(from position: Int) -> Int? {
            position >= self.firstSequence ? (self.nextSequence - position) * self.eventBytes : nil
        }
    }

    /// A client's socket that fills after `writesBeforeFull` writes of any kind (`nil`: never).
    struct Socket {
        var writesBeforeFull: Int?

        var isWritable: Bool { (self.writesBeforeFull ?? 1) > 0 }

        mutating func wrote() {
            self.writesBeforeFull = self.writesBeforeFull.map { $0 - 1 }
        }
    }

    /// One write pass carried out as the subscriber carries it out, as a trace: `read N` (a
    /// batch read from N), `comment N`, `event N` (`first` for the client's first), `lag N`,
    /// the end blocks, and how the pass ended.
    static func pass(
        _ cursor: inout Cursor, log: Log, socket: inout Socket, now: NIODeadline = joined
    ) -> [String] {
        var trace: [String] = []
        var batch: Cursor.Batch?
        var action = cursor.nextAction(isWritable: socket.isWritable, now: now)
        while true {
            switch action {
            case .readBatch(let from, let commentsSeen):
                #expect(from == cursor.position && commentsSeen == cursor.commentsSeen)
                trace.append("read \(from)")
                batch = log.batch(from: from, commentsSeen: commentsSeen)
                action = cursor.batchRead(batch, now: now)
                continue
            case .measureLag(let from):
                let lag = log.lag(from: from)
                trace.append("lag \(lag.map(String.init) ?? "evicted")")
                action = cursor.socketFull(lag: lag)
                continue
            case .writeComment(let index):
                trace.append("comment \(batch!.comments[index].number)")
            case .writeEvent(let index, let isFirst):
                trace.append("event \(batch!.events.lowerBound + index)\(isFirst ? " first" : "")")
            case .writeEndBlock(let marker):
                trace.append("end \(marker)")
            case .writeFailureBlock(let marker, let failure):
                trace.append("failure \(marker) \(failure.rawValue)")
            case .flush, .finish, .none:
                trace.append("\(action)")
                return trace
            case .drop(let reason):
                trace.append(reason.isOverQueueLimit ? "drop over limit" : "drop evicted")
                return trace
            case .writeStreamHead, .writeRejection, .writeFailureAnswer:
                Issue.record("an answer's action in a write pass: \(action)")
                return trace
            }
            socket.wrote()
            action = cursor.nextAction(isWritable: socket.isWritable, now: now)
        }
    }

    static func pass(_ cursor: inout Cursor, log: Log, writesBeforeFull: Int? = nil) -> [String] {
        var socket = Socket(writesBeforeFull: writesBeforeFull)
        return Self.pass(&cursor, log: log, socket: &socket)
    }

    static func marker(_ sequence: Int, _ suffix: String) -> String {
        "\(Self.token)-\(sequence)\(suffix)"
    }

    // MARK: - The upstream's answer

    @Test(
        "an event stream is answered with the head and a priming id naming the position before the cursor",
        arguments: [1, 2, 43])
    func streamHead(position: Int) {
        var cursor = Cursor(
            generationToken: Self.token, position: position, commentsSeen: 0, clientQueueBytes: 1000,
            heartbeatInterval: nil, now: Self.joined)
        #expect(cursor.isAwaitingAnswer)
        let answeredAt = Self.joined + .seconds(3)
        #expect(
            cursor.upstreamAnswered(.stream, now: answeredAt)
                == .writeStreamHead(primingID: "\(Self.token)-\(position - 1)"))
        #expect(!cursor.isAwaitingAnswer)
        #expect(cursor.lastWrite == answeredAt)
        // Events follow: the pass reads from the cursor.
        #expect(cursor.nextAction(isWritable: true, now: answeredAt) == .readBatch(from: position, commentsSeen: 0))
        // The upstream answers once.
        #expect(cursor.upstreamAnswered(.stream, now: answeredAt) == .none)
        #expect(cursor.upstreamAnswered(.failed, now: answeredAt) == .none)
    }

    @Test(
        "any other answer is written once and the response ends",
        arguments: [
            (Cursor.Answer.rejected, Cursor.Action.writeRejection), (.failed, .writeFailureAnswer),
        ] as [(Cursor.Answer, Cursor.Action)])
    func answerThatEnds(answer: Cursor.Answer, expected: Cursor.Action) {
        var cursor = Cursor(
            generationToken: Self.token, position: 1, commentsSeen: 0, clientQueueBytes: 1000,
            heartbeatInterval: .seconds(5), now: Self.joined)
        #expect(cursor.upstreamAnswered(answer, now: Self.joined) == expected)
        #expect(cursor.nextAction(isWritable: true, now: Self.joined) == .finish)
        #expect(cursor.nextAction(isWritable: true, now: Self.joined) == .none)
        #expect(cursor.batchRead(Log("e").batch(from: 1, commentsSeen: 0), now: Self.joined) == .none)
        #expect(cursor.socketFull(lag: 0) == .none)
        #expect(cursor.upstreamAnswered(.stream, now: Self.joined) == .none)
        // Answered: the client did not abandon its request.
        #expect(cursor.stop() == .leave(abandoned: false))
        #expect(cursor.stop() == .none)
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(60)) == .none)
    }

    @Test("nothing is written before the upstream answers")
    func beforeTheAnswer() {
        var cursor = Cursor(
            generationToken: Self.token, position: 1, commentsSeen: 0, clientQueueBytes: 1000,
            heartbeatInterval: nil, now: Self.joined)
        #expect(cursor.nextAction(isWritable: true, now: Self.joined) == .none)
        #expect(cursor.batchRead(Log("e").batch(from: 1, commentsSeen: 0), now: Self.joined) == .none)
        #expect(cursor.socketFull(lag: 10_000) == .none)
        #expect(cursor.position == 1)
        #expect(cursor.isAwaitingAnswer)
    }

    @Test("a client that leaves before the upstream answered abandoned its request; it leaves once")
    func stop() {
        var waiting = Cursor(
            generationToken: Self.token, position: 1, commentsSeen: 0, clientQueueBytes: 1000,
            heartbeatInterval: .seconds(1), now: Self.joined)
        #expect(waiting.stop() == .leave(abandoned: true))
        #expect(waiting.isStopped)
        #expect(waiting.stop() == .none)
        #expect(waiting.upstreamAnswered(.stream, now: Self.joined) == .none)
        #expect(waiting.heartbeatCheck(now: Self.joined + .seconds(5)) == .none)

        var served = Self.streaming()
        #expect(served.stop() == .leave(abandoned: false))
        #expect(served.nextAction(isWritable: true, now: Self.joined) == .none)
        #expect(served.stop() == .none)
    }

    // MARK: - Comments among events

    @Test(
        "comments go out in their place among the events, only those that arrived after the client joined",
        arguments: [
            // Before, between and after events, at the head.
            (
                "c e e c e c", 1, 0,
                ["read 1", "comment 1", "event 1 first", "event 2", "comment 2", "event 3", "comment 3"]
            ),
            // Comments at the same position keep their order of arrival.
            ("e c c e", 1, 0, ["read 1", "event 1 first", "comment 1", "comment 2", "event 2"]),
            // One that arrived before the client joined is never sent.
            ("c e c e", 1, 1, ["read 1", "event 1 first", "comment 2", "event 2"]),
            ("c c", 1, 2, ["read 1"]),
            // One whose place the client already passed goes before its next event...
            ("e c e e", 3, 0, ["read 3", "comment 1", "event 3 first"]),
            // ...or at once at the head.
            ("e e e c", 4, 0, ["read 4", "comment 1"]),
            ("c", 1, 0, ["read 1", "comment 1"]),
            // A replaying client: the comments wait for their events.
            ("e e e c e", 2, 0, ["read 2", "event 2 first", "event 3", "comment 1", "event 4"]),
        ] as [(String, Int, Int, [String])])
    func commentOrdering(script: String, position: Int, commentsSeen: Int, expected: [String]) {
        var cursor = Self.streaming(position: position, commentsSeen: commentsSeen)
        let log = Log(script)
        #expect(Self.pass(&cursor, log: log) == expected + ["flush"])
        #expect(cursor.position == log.nextSequence)
        #expect(cursor.commentsSeen == log.comments.count)
        // Nothing is sent twice.
        #expect(Self.pass(&cursor, log: log) == ["read \(log.nextSequence)", "flush"])
    }

    @Test("a pass reads the log a batch at a time, and a comment waits for the batch of its event")
    func batches() {
        var cursor = Self.streaming()
        let log = Log("e e c e e e", batchLimit: 2)
        #expect(
            Self.pass(&cursor, log: log) == [
                "read 1", "event 1 first", "event 2", "read 3", "comment 1", "event 3", "event 4", "read 5", "event 5",
                "flush",
            ])
    }

    @Test("only the client's very first event tells the generation it is worth lingering for")
    func firstEvent() {
        var cursor = Self.streaming()
        var log = Log("e")
        #expect(Self.pass(&cursor, log: log) == ["read 1", "event 1 first", "flush"])
        log.append("e e")
        #expect(Self.pass(&cursor, log: log) == ["read 2", "event 2", "event 3", "flush"])
        #expect(cursor.deliveredEvents == 3)
        #expect(cursor.position == 4)
    }

    // MARK: - A full socket

    @Test(
        "the socket is asked after every event and not after comments; a full one ends the pass with the lag measured",
        arguments: [
            // Full at the start of the pass: nothing is read.
            ("e e", 0, ["lag 200", "flush"]),
            ("e e e", 1, ["read 1", "event 1 first", "lag 200", "flush"]),
            ("e e e", 2, ["read 1", "event 1 first", "event 2", "lag 100", "flush"]),
            // The comment filled the socket, but the event after it still goes.
            ("c e e", 1, ["read 1", "comment 1", "event 1 first", "lag 100", "flush"]),
            // The comment before the next event waits with it.
            ("e c e", 1, ["read 1", "event 1 first", "lag 100", "flush"]),
            // Full after the event that reached the head: the comments after it still go, no lag
            // is measured.
            ("e e c c", 2, ["read 1", "event 1 first", "event 2", "comment 1", "comment 2", "flush"]),
        ] as [(String, Int, [String])])
    func fullSocket(script: String, writesBeforeFull: Int, expected: [String]) {
        var cursor = Self.streaming()
        #expect(Self.pass(&cursor, log: Log(script), writesBeforeFull: writesBeforeFull) == expected)
    }

    @Test("what a full socket cut short goes out, in order, once the socket drained")
    func resumesAfterDrain() {
        var cursor = Self.streaming()
        let log = Log("e c e c e")
        #expect(Self.pass(&cursor, log: log, writesBeforeFull: 1) == ["read 1", "event 1 first", "lag 200", "flush"])
        #expect(cursor.commentsSeen == 0)
        #expect(
            Self.pass(&cursor, log: log) == ["read 2", "comment 1", "event 2", "comment 2", "event 3", "flush"])
        #expect(cursor.commentsSeen == 2)
    }

    @Test("the end of an ended generation follows the last event even when the socket filled with it")
    func fullSocketAtTheEnd() {
        var cursor = Self.streaming()
        var log = Log("e e c")
        log.end(.finished)
        #expect(
            Self.pass(&cursor, log: log, writesBeforeFull: 2) == [
                "read 1", "event 1 first", "event 2", "comment 1", "end \(Self.marker(2, ".end"))", "finish",
            ])
    }

    // MARK: - The end of the response

    @Test(
        "at the head of an ended generation: the comments left, the end block or failure event with the last event's marker",
        arguments: [
            (
                "e e c", 1, GenerationEnding?.some(.finished),
                ["event 1 first", "event 2", "comment 1", "end \(SubscriberCursorTests.marker(2, ".end"))"]
            ),
            ("", 1, .finished, ["end \(SubscriberCursorTests.marker(0, ".end"))"]),
            // A resumed client gets the generation's marker, not one of its own position.
            (
                "e e e e e", 4, .finished,
                ["event 4 first", "event 5", "end \(SubscriberCursorTests.marker(5, ".end"))"]
            ),
            (
                "e", 1, .failed(.upstreamClosed),
                ["event 1 first", "failure \(SubscriberCursorTests.marker(1, ".failed")) upstream_closed"]
            ),
            (
                "e c e", 1, .failed(.invalidStream),
                [
                    "event 1 first", "comment 1", "event 2",
                    "failure \(SubscriberCursorTests.marker(2, ".failed")) invalid_stream",
                ]
            ),
            ("", 1, .failed(.cancelled), ["failure \(SubscriberCursorTests.marker(0, ".failed")) cancelled"]),
            // Discarded while the client caught up: nothing more to say.
            ("e e", 1, nil, ["event 1 first", "event 2"]),
        ] as [(String, Int, GenerationEnding?, [String])])
    func endOfResponse(script: String, position: Int, ending: GenerationEnding?, expected: [String]) {
        var cursor = Self.streaming(position: position)
        var log = Log(script)
        log.end(ending)
        #expect(Self.pass(&cursor, log: log) == ["read \(position)"] + expected + ["finish"])
        // The response is over: nothing more, until the subscriber leaves.
        #expect(cursor.nextAction(isWritable: true, now: Self.joined) == .none)
        #expect(cursor.socketFull(lag: 0) == .none)
        #expect(cursor.stop() == .leave(abandoned: false))
    }

    @Test("an open generation's pass ends at the head, flushed, and goes on when events come")
    func openAtTheHead() {
        var cursor = Self.streaming()
        var log = Log("e")
        #expect(Self.pass(&cursor, log: log) == ["read 1", "event 1 first", "flush"])
        log.append("c")
        log.end(.finished)
        #expect(Self.pass(&cursor, log: log) == ["read 2", "comment 1", "end \(Self.marker(1, ".end"))", "finish"])
    }

    // MARK: - Eviction

    @Test("a client whose position was evicted is dropped, not as over the queue limit")
    func evicted() {
        var log = Log("e e e e")
        log.firstSequence = 3
        var reading = Self.streaming(position: 2)
        #expect(Self.pass(&reading, log: log) == ["read 2", "drop evicted"])
        #expect(reading.nextAction(isWritable: true, now: Self.joined) == .none)
        #expect(reading.stop() == .leave(abandoned: false))

        var full = Self.streaming(position: 2)
        #expect(Self.pass(&full, log: log, writesBeforeFull: 0) == ["lag evicted", "drop evicted"])

        let reason = Cursor.DropReason.evicted
        #expect(!reason.isOverQueueLimit)
        #expect(reason.description == "its position was evicted from the replay buffer")
    }

    @Test("a batch without events behind the head means the log lost the position")
    func emptyBatchBehindTheHead() {
        var cursor = Self.streaming(position: 2)
        let batch = Cursor.Batch(events: 2..<2, comments: [], nextSequence: 5, isOpen: true, ending: nil)
        #expect(cursor.batchRead(batch, now: Self.joined) == .drop(.evicted))
    }

    // MARK: - The lag allowance

    @Test(
        "a full socket is allowed the larger of clientQueueBytes and its first lag, shrinking with the lag, never below clientQueueBytes",
        arguments: [
            // A client catching up on the replay is not slow...
            ([5000, 4000, 3000], ["ok 5000", "ok 4000", "ok 3000"]),
            // ...but may not fall behind again beyond where it got to.
            ([5000, 3000, 3001], ["ok 5000", "ok 3000", "drop 3001"]),
            ([5000, 5001], ["ok 5000", "drop 5001"]),
            // The allowance never goes below clientQueueBytes.
            ([200, 900, 1000, 1001], ["ok 1000", "ok 1000", "ok 1000", "drop 1001"]),
            ([1000, 0, 1000], ["ok 1000", "ok 1000", "ok 1000"]),
            ([1500, 1500, 1501], ["ok 1500", "ok 1500", "drop 1501"]),
        ] as [([Int], [String])])
    func lagAllowance(lags: [Int], expected: [String]) {
        var cursor = Self.streaming(clientQueueBytes: 1000)
        var outcomes: [String] = []
        for lag in lags {
            #expect(cursor.nextAction(isWritable: false, now: Self.joined) == .measureLag(from: 1))
            switch cursor.socketFull(lag: lag) {
            case .flush:
                outcomes.append("ok \(cursor.lagAllowance ?? -1)")
            case .drop(.overQueueLimit(let droppedLag, let limit)):
                #expect(limit == 1000)
                outcomes.append("drop \(droppedLag)")
            case let other:
                outcomes.append("\(other)")
            }
            if outcomes.last?.hasPrefix("drop") == true { break }
        }
        #expect(outcomes == expected)
    }

    @Test("a dropped slow client is told over the queue limit, with its lag and the limit")
    func overQueueLimitReason() {
        let reason = Cursor.DropReason.overQueueLimit(lag: 70_000, clientQueueBytes: 65_536)
        #expect(reason.isOverQueueLimit)
        #expect(
            reason.description == "its socket is full and it lags 70000 bytes behind (limits.clientQueueBytes 65536)")
        var cursor = Self.streaming(clientQueueBytes: 100)
        var log = Log("e e e")
        #expect(Self.pass(&cursor, log: log, writesBeforeFull: 1) == ["read 1", "event 1 first", "lag 200", "flush"])
        log.append("e e")
        #expect(Self.pass(&cursor, log: log, writesBeforeFull: 0) == ["lag 400", "drop over limit"])
        #expect(cursor.nextAction(isWritable: true, now: Self.joined) == .none)
    }

    // MARK: - Heartbeats

    @Test("without a heartbeat interval there are no checks")
    func noHeartbeats() {
        var cursor = Self.streaming(heartbeat: nil)
        #expect(cursor.firstHeartbeatCheck == .none)
        #expect(cursor.heartbeatCheck(now: Self.joined + .hours(1)) == .none)
    }

    @Test(
        "a check finds a client quiet for the interval and beats, else comes back when the interval since the last write is over",
        arguments: [
            (10_000, "beat, next in 10000"),
            (25_000, "beat, next in 10000"),
            (9_999, "check in 1"),
            (4_000, "check in 6000"),
            (0, "check in 10000"),
        ] as [(Int64, String)])
    func heartbeatCheck(quietMilliseconds: Int64, expected: String) {
        var cursor = Self.streaming(heartbeat: .seconds(10))
        #expect(cursor.firstHeartbeatCheck == .scheduleCheck(in: .seconds(10)))
        let now = Self.joined + .milliseconds(quietMilliseconds)
        let outcome: String
        switch cursor.heartbeatCheck(now: now) {
        case .sendHeartbeat(let next):
            outcome = "beat, next in \(next.nanoseconds / 1_000_000)"
            #expect(cursor.lastWrite == now)
        case .scheduleCheck(let delay):
            outcome = "check in \(delay.nanoseconds / 1_000_000)"
            #expect(cursor.lastWrite == Self.joined)
        case .none:
            outcome = "none"
        }
        #expect(outcome == expected)
    }

    @Test("every write counts as traffic: the head, events, comments, the heartbeat itself")
    func writesPostponeTheHeartbeat() {
        let interval = TimeAmount.seconds(10)
        // The head, written at 3 s.
        var cursor = Self.streaming(heartbeat: interval, now: Self.joined + .seconds(3))
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(10)) == .scheduleCheck(in: .seconds(3)))
        // An event at 7 s, then a comment at 15 s.
        var log = Log("e")
        var socket = Socket()
        _ = Self.pass(&cursor, log: log, socket: &socket, now: Self.joined + .seconds(7))
        #expect(cursor.lastWrite == Self.joined + .seconds(7))
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(13)) == .scheduleCheck(in: .seconds(4)))
        log.append("c")
        _ = Self.pass(&cursor, log: log, socket: &socket, now: Self.joined + .seconds(15))
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(17)) == .scheduleCheck(in: .seconds(8)))
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(25)) == .sendHeartbeat(nextCheckIn: interval))
        // The heartbeat itself at 25 s.
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(30)) == .scheduleCheck(in: .seconds(5)))
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(35)) == .sendHeartbeat(nextCheckIn: interval))
        // Reading the log and measuring the lag write nothing.
        _ = Self.pass(&cursor, log: log, socket: &socket, now: Self.joined + .seconds(40))
        var full = Socket(writesBeforeFull: 0)
        _ = Self.pass(&cursor, log: log, socket: &full, now: Self.joined + .seconds(41))
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(45)) == .sendHeartbeat(nextCheckIn: interval))
    }

    @Test("before the upstream answered there is nothing to beat into: the check comes back after the interval")
    func heartbeatBeforeTheAnswer() {
        var cursor = Cursor(
            generationToken: Self.token, position: 1, commentsSeen: 0, clientQueueBytes: 1000,
            heartbeatInterval: .seconds(10), now: Self.joined)
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(4)) == .scheduleCheck(in: .seconds(6)))
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(10)) == .scheduleCheck(in: .seconds(10)))
        #expect(cursor.heartbeatCheck(now: Self.joined + .seconds(30)) == .scheduleCheck(in: .seconds(10)))
        #expect(cursor.lastWrite == Self.joined)
    }
}
