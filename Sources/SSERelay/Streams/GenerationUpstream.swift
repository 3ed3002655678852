import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SSERelayCore

/// The upstream request of one generation, on the generation's event loop: sends the request,
/// parses the event stream, and hands events and the outcome to the ``Generation``.
///
/// The upstream is never slowed by clients (each reads the shared log at its own pace and a
/// slow one is dropped), so this side reads as fast as the backend writes; memory is bounded
/// by the replay buffer's limits and the parser's event size limit.
final class GenerationUpstream: UpstreamResponseReceiver {
    /// The largest non-SSE answer relayed to waiting clients; a larger one fails them with `502`.
    static let maximumRejectedBodyBytes = 1 << 20

    private let generation: Generation
    private let pool: UpstreamConnectionPool
    /// The request to send, let go once it is written: a stream can live for hours, and its
    /// headers (cookies, tokens) are the largest part of an idle one.
    private var requestHead: HTTPRequestHead?
    private let responseTimeoutSeconds: Double
    private var parser: EventStreamParser
    private var connection: UpstreamConnection?
    private var responseTimer: Scheduled<Void>?
    private var rejectedHead: HTTPResponseHead?
    private var rejectedBody = ByteBuffer()
    private var isStreaming = false
    private var isDone = false

    init(
        generation: Generation, pool: UpstreamConnectionPool, requestHead: HTTPRequestHead,
        responseTimeoutSeconds: Double
    ) {
        self.generation = generation
        self.pool = pool
        self.requestHead = requestHead
        self.responseTimeoutSeconds = responseTimeoutSeconds
        self.parser = EventStreamParser(maximumEventBytes: EventStreamParser.defaultMaximumEventBytes)
    }

    /// Sends the request; call on the generation's loop.
    func start() {
        self.generation.metrics.upstreamStreamStarted()
        let bound = NIOLoopBound(self, eventLoop: self.pool.eventLoop)
        self.generation.upstreamCanceller.withLockedValue { canceller in
            canceller = { bound.eventLoop.execute { bound.value.cancel() } }
        }
        self.responseTimer = self.pool.eventLoop.assumeIsolated().scheduleTask(
            in: .fractionalSeconds(self.responseTimeoutSeconds)
        ) {
            self.fail(.responseTimeout(seconds: self.responseTimeoutSeconds))
        }
        self.pool.acquireForStream { result in
            switch result {
            case .success(let connection):
                // The request head is there until it is sent, and `start` sends it once.
                guard !self.isDone, let requestHead = self.requestHead else {
                    self.pool.release(connection)
                    return
                }
                self.requestHead = nil
                self.connection = connection
                connection.begin(requestHead, for: self)
                connection.write(.end(nil))
                connection.flush()
            case .failure(let error):
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
        self.pool.release(connection)
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
