import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// ``StreamSubscriber`` without sockets or a channel: a generation started on an
/// `EmbeddedEventLoop`, fed directly, and a client connection that records what it is handed.
/// The loop's clock is the subscriber's, so heartbeats are timed by advancing it.
@Suite("StreamSubscriber")
struct StreamSubscriberTests {
    private static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A client connection that records every call, in order: `head <status>`, bodies and
    /// events as their text, `flush`, `finish`, `abort <reason>`.
    private final class RecordingWriter: StreamResponseWriter {
        var isWritable = true
        var queuedBytes = 0
        var clientAddress: String? = "192.0.2.7"
        var writes: [String] = []

        func writeStreamHead(_ head: HTTPResponseHead) { self.writes.append("head \(head.status.code)") }
        func writeStreamBody(_ body: ByteBuffer) { self.writes.append(String(buffer: body)) }
        func writeStreamEvent(_ event: FramedChunk) { self.writes.append(String(buffer: event.payload)) }
        func flushStream() { self.writes.append("flush") }
        func finishStream() { self.writes.append("finish") }
        func abortStream(reason: String) { self.writes.append("abort \(reason)") }

        /// The writes since the last call.
        func take() -> [String] {
            defer { self.writes.removeAll() }
            return self.writes
        }
    }

    /// A started generation, its first client subscribed through `writer`, on `loop`.
    private struct Fixture {
        let loop = EmbeddedEventLoop()
        let registry = StreamRegistry(
            limits: LimitsConfiguration(), metrics: RelayMetrics(), logger: StreamSubscriberTests.logger)
        let generation: Generation
        let writer = RecordingWriter()
        let subscriber: StreamSubscriber

        init(clientQueueBytes: Int = 65_536) throws {
            let route = StreamRouteConfiguration.defaultRoute
            let key = try #require(StreamKey(route: route, target: "/api/conversation/a/stream", headers: [:]))
            let admission = self.registry.resolve(
                key: key, route: route, lastEventID: nil, client: nil, eventLoop: self.loop)
            guard case .admitted(.start, let generation?) = admission else {
                Issue.record("expected a start, got \(admission)")
                throw CancellationError()
            }
            self.generation = generation
            self.subscriber = StreamSubscriber(
                generation: generation, cursor: 1, mode: .started,
                request: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/api/conversation/a/stream"),
                writer: self.writer, clientQueueBytes: clientQueueBytes, eventLoop: self.loop)
        }

        /// The relay id of event `sequence`.
        func id(_ sequence: Int) -> String { "\(self.generation.token)-\(sequence)" }

        func answerWithStream() {
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Type": "text/event-stream"])
            self.generation.upstreamAnswered(.stream(StreamAnswerHead(upstream: head, route: self.generation.route)))
            self.loop.run()
        }

        func receive(_ number: Int) {
            self.generation.received(
                ServerSentEvent(lines: [ServerSentEvent.Line(field: "data", raw: Array("data: \(number)".utf8))]),
                at: .now())
            self.loop.run()
        }

        /// A held generation and its registry refer to each other until it is discarded.
        func tearDown() {
            self.subscriber.stop()
            self.generation.discard()
            try? self.loop.syncShutdownGracefully()
        }
    }

    @Test("the head and first block once the upstream answered, then events and comments in order, then the end block")
    func servesAStream() throws {
        let fixture = try Fixture()
        defer { fixture.tearDown() }
        fixture.subscriber.start()
        fixture.loop.run()
        #expect(fixture.writer.take() == [])

        fixture.answerWithStream()
        #expect(fixture.writer.take() == ["head 200", "retry: 2000\nid: \(fixture.id(0))\n\n", "flush"])

        fixture.receive(1)
        fixture.generation.received(comment: Array(": thinking".utf8))
        fixture.loop.run()
        fixture.receive(2)
        #expect(
            fixture.writer.take() == [
                "data: 1\nid: \(fixture.id(1))\n\n", "flush", ": thinking\n", "flush",
                "data: 2\nid: \(fixture.id(2))\n\n", "flush",
            ])
        #expect(fixture.subscriber.inspect(now: .now()).deliveredEvents == 2)

        fixture.generation.upstreamEnded(failure: nil)
        fixture.loop.run()
        #expect(fixture.writer.take() == ["id: \(fixture.id(2)).end\n\n", "finish"])
        #expect(fixture.generation.clientCount == 0)
    }

    @Test("a client whose socket is full falls behind up to clientQueueBytes, then it is dropped")
    func dropsASlowClient() throws {
        let fixture = try Fixture(clientQueueBytes: 20)
        defer { fixture.tearDown() }
        fixture.subscriber.start()
        fixture.answerWithStream()
        _ = fixture.writer.take()
        fixture.writer.isWritable = false

        // Over clientQueueBytes with its first full socket: the allowance is that lag.
        fixture.receive(1)
        #expect(fixture.writer.take() == ["flush"])
        let eventBytes = try #require(fixture.generation.lag(from: 1))
        #expect(eventBytes > 20)
        // Further behind than that: dropped. (Nobody got an event, so the generation is
        // abandoned with it and its log is gone: the lag is worked out here.)
        fixture.receive(2)
        let lag = 2 * eventBytes
        #expect(
            fixture.writer.take() == [
                "abort its socket is full and it lags \(lag) bytes behind (limits.clientQueueBytes 20)"
            ])
        #expect(fixture.generation.clientCount == 0)

        // Gone: nothing more is written.
        fixture.writer.isWritable = true
        fixture.subscriber.writabilityChanged()
        fixture.receive(3)
        #expect(fixture.writer.take() == [])
    }

    @Test("a quiet client gets a heartbeat once it was sent nothing for heartbeatSeconds")
    func heartbeats() throws {
        let fixture = try Fixture()
        defer { fixture.tearDown() }
        let interval = try #require(fixture.generation.route.heartbeatSeconds)
        #expect(interval == 15)
        fixture.subscriber.start()
        fixture.answerWithStream()
        _ = fixture.writer.take()

        // An event 10 s in postpones the first check's heartbeat to 25 s.
        fixture.loop.advanceTime(by: .seconds(10))
        fixture.receive(1)
        _ = fixture.writer.take()
        fixture.loop.advanceTime(by: .seconds(14))
        #expect(fixture.writer.take() == [])
        fixture.loop.advanceTime(by: .seconds(1))
        #expect(fixture.writer.take() == [":\n", "flush"])
        fixture.loop.advanceTime(by: .seconds(15))
        #expect(fixture.writer.take() == [":\n", "flush"])

        // Once the client left, no more.
        fixture.subscriber.stop()
        fixture.loop.advanceTime(by: .seconds(60))
        #expect(fixture.writer.take() == [])
    }

    @Test("an upstream that could not be reached is answered with the route's retry stream")
    func failedAnswer() throws {
        let fixture = try Fixture()
        defer { fixture.tearDown() }
        fixture.subscriber.start()
        fixture.generation.upstreamAnswered(.failed(.connectionRefused("127.0.0.1:9")))
        fixture.loop.run()
        #expect(
            fixture.writer.take() == [
                "head 200", "retry: 2000\n: upstream unavailable: upstream refused the connection\n\n", "finish",
            ])
    }

    @Test("an upstream answer that is not an event stream is relayed as it is")
    func rejectedAnswer() throws {
        let fixture = try Fixture()
        defer { fixture.tearDown() }
        fixture.subscriber.start()
        fixture.generation.upstreamAnswered(
            .rejected(HTTPResponseHead(version: .http1_1, status: .notFound), body: ByteBuffer(string: "no such chat")))
        fixture.loop.run()
        #expect(fixture.writer.take() == ["head 404", "no such chat", "finish"])
    }

    @Test("a client that went away before the upstream answered is written nothing")
    func leftBeforeTheAnswer() throws {
        let fixture = try Fixture()
        defer { fixture.tearDown() }
        fixture.subscriber.start()
        fixture.subscriber.stop()
        fixture.answerWithStream()
        fixture.receive(1)
        #expect(fixture.writer.take() == [])
        #expect(fixture.generation.clientCount == 0)
    }
}
