import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SSERelayCore

/// The upstream request of one generation, on the generation's event loop: places it on a
/// server, sends the request, parses the event stream, and hands events and the outcome to the
/// ``Generation``.
///
/// The server is the one ``UpstreamBalancer/poolForStream(placement:excluding:)`` chooses for
/// the generation's key, so every generation of a conversation goes to the same server while it
/// is healthy. A server that cannot be connected to was sent nothing, so the request goes on to
/// the key's next server within the same response timeout.
///
/// The upstream is never slowed by clients (each reads the shared log at its own pace and a
/// slow one is dropped), so this side reads as fast as the backend writes; memory is bounded
/// by the replay buffer's limits and the parser's event size limit.
final class GenerationUpstream: UpstreamResponseReceiver {
    /// The largest non-SSE answer relayed to waiting clients; a larger one fails them with `502`.
    static let maximumRejectedBodyBytes = 1 << 20

    private let generation: Generation
    private let upstreams: UpstreamBalancer
    /// The generation key's ``StreamKey/placementHash``.
    private let placement: UInt64
    /// The servers a connection could not be opened to.
    private var tried = ServerSet.empty
    /// The server of the open connection, whose health its outcome speaks for.
    private var server: UpstreamServer?
    /// What the request is made of, let go once it is written: a stream can live for hours, and
    /// its headers (cookies, tokens) are the largest part of an idle one.
    private var request: GenerationUpstreamRequest?
    private let forwardedLastEventID: String?
    private let responseTimeoutSeconds: Double
    private var parser: EventStreamParser
    private var connection: UpstreamConnection?
    private var responseTimer: Scheduled<Void>?
    private var rejectedHead: HTTPResponseHead?
    private var rejectedBody = ByteBuffer()
    private var isStreaming = false
    private var isDone = false

    /// The upstream request of `generation`, made of `request`, with the `Last-Event-ID` the
    /// resolution forwards.
    init(generation: Generation, request: GenerationUpstreamRequest, forwardedLastEventID: String?) {
        self.generation = generation
        self.upstreams = request.upstreams
        self.placement = generation.key.placementHash
        self.request = request
        self.forwardedLastEventID = forwardedLastEventID
        self.responseTimeoutSeconds = request.responseTimeoutSeconds
        self.parser = EventStreamParser(maximumEventBytes: EventStreamParser.defaultMaximumEventBytes)
    }

    /// Sends the request; call on the generation's loop.
    func start() {
        self.generation.metrics.upstreamStreamStarted()
        let bound = NIOLoopBound(self, eventLoop: self.generation.eventLoop)
        self.generation.upstreamCanceller.withLockedValue { canceller in
            canceller = { bound.eventLoop.execute { bound.value.cancel() } }
        }
        self.responseTimer = self.generation.eventLoop.assumeIsolated().scheduleTask(
            in: .fractionalSeconds(self.responseTimeoutSeconds)
        ) {
            self.fail(.responseTimeout(seconds: self.responseTimeoutSeconds))
        }
        self.connect()
    }

    /// Takes a connection to the key's best server not tried yet and sends the request on it.
    private func connect() {
        // The first call tried no server, and a retry is made only when one is left; the guard
        // is for the impossible case, which must not leave the generation waiting.
        guard let pool = self.upstreams.poolForStream(placement: self.placement, excluding: self.tried) else {
            return self.fail(.noServerLeft)
        }
        self.generation.placed(on: pool.server.name)
        pool.acquireForStream { result in
            switch result {
            case .success(let connection):
                // The request is there until it is sent, and it is sent once.
                guard !self.isDone, let request = self.request else {
                    connection.release()
                    return
                }
                self.request = nil
                self.connection = connection
                self.server = pool.server
                connection.begin(
                    request.head(forwardedLastEventID: self.forwardedLastEventID, server: pool.server), for: self)
                connection.write(.end(nil))
                connection.flush()
            case .failure(let error):
                self.tried.insert(pool.server.index)
                if error.isBeforeSending, !self.isDone, self.upstreams.hasServer(notIn: self.tried) {
                    self.generation.logger.info(
                        "stream upstream server could not be reached, trying the key's next",
                        metadata: ["server": "\(pool.server.name)", "error": "\(error.detail)"])
                    return self.connect()
                }
                self.fail(error)
            }
        }
    }

    /// Marks the upstream request over and drops the generation's way to cancel it, which
    /// would otherwise keep this object and the generation alive through each other.
    private func markDone() {
        self.isDone = true
        self.responseTimer?.cancel()
        self.responseTimer = nil
        self.generation.upstreamCanceller.withLockedValue { $0 = nil }
    }

    /// Closes the upstream request (no client came back within the linger time).
    private func cancel() {
        guard !self.isDone else { return }
        self.markDone()
        self.connection?.close()
        self.connection = nil
        self.generation.upstreamEnded(failure: .cancelled, detail: "cancelled by the relay")
    }

    private func fail(_ error: UpstreamError) {
        guard !self.isDone else { return }
        self.markDone()
        if error.isServerFault {
            self.server?.recordFailure(error.reason)
        }
        self.generation.metrics.recordUpstreamError(reason: error.reason)
        self.connection?.close()
        self.connection = nil
        if self.isStreaming {
            self.generation.upstreamEnded(failure: .upstreamClosed, detail: error.detail)
        } else {
            self.generation.logger.warning(
                "stream upstream failed", metadata: ["reason": "\(error.reason)", "error": "\(error.detail)"])
            self.generation.upstreamAnswered(.failed(error))
        }
    }

    // MARK: UpstreamResponseReceiver

    func upstream(_ connection: UpstreamConnection, didReceiveHead head: HTTPResponseHead) {
        self.responseTimer?.cancel()
        self.responseTimer = nil
        if head.status.code >= 500 {
            self.server?.recordFailure("status \(head.status.code)")
        } else {
            self.server?.recordSuccess()
        }
        let contentType = head.headers.first(name: "content-type")?.lowercased() ?? ""
        if head.status == .ok, contentType.hasPrefix("text/event-stream") {
            self.isStreaming = true
            self.generation.upstreamAnswered(.stream(StreamAnswerHead(upstream: head, route: self.generation.route)))
        } else {
            self.rejectedHead = head
        }
    }

    func upstream(_ connection: UpstreamConnection, didReceiveBody body: ByteBuffer) {
        guard !self.isDone else { return }
        guard self.isStreaming else {
            var body = body
            guard self.rejectedBody.readableBytes + body.readableBytes <= Self.maximumRejectedBodyBytes else {
                return self.fail(.invalidResponse(RejectedBodyTooLarge()))
            }
            self.rejectedBody.writeBuffer(&body)
            return
        }
        let receivedAt = NIODeadline.now()
        do {
            for output in try self.parser.feed(body) {
                switch output {
                case .event(let event):
                    self.generation.received(event, at: receivedAt)
                case .comment(let line):
                    self.generation.received(comment: line)
                }
            }
        } catch {
            self.markDone()
            self.generation.metrics.recordUpstreamError(reason: "invalid_event_stream")
            connection.close()
            self.connection = nil
            self.generation.upstreamEnded(failure: .invalidStream, detail: "\(error)")
        }
    }

    func upstreamDidReceiveEnd(_ connection: UpstreamConnection) {
        guard !self.isDone else { return }
        self.markDone()
        self.connection = nil
        connection.release()
        if self.isStreaming {
            self.parser.finish()
            self.generation.upstreamEnded(failure: nil)
        } else if let head = self.rejectedHead {
            self.generation.upstreamAnswered(.rejected(head, body: self.rejectedBody))
        }
    }

    func upstreamDidCompleteRead(_ connection: UpstreamConnection) {}

    func upstream(_ connection: UpstreamConnection, didChangeWritability isWritable: Bool) {}

    func upstream(_ connection: UpstreamConnection, didFail error: UpstreamError) {
        self.connection = nil
        self.fail(error)
    }

    private struct RejectedBodyTooLarge: Error, CustomStringConvertible {
        var description: String {
            "a non-SSE answer to a stream request exceeds \(GenerationUpstream.maximumRejectedBodyBytes) bytes"
        }
    }
}
