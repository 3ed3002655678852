import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SSERelayCore

/// The active health check of one server (`upstream.health.check`): a `GET` of the configured
/// path every interval, on a connection of its own that is closed after the answer. A `2xx` or
/// `3xx` status within the timeout passes; a failed connect, a timeout, a broken response or
/// another status fails and takes the server out of the rotation until a check passes.
///
/// Checks of one server never overlap: the next starts an interval after the previous one
/// started, or at once when it took longer. With a single server the checks still run: traffic
/// goes to it whatever they say, but `/readyz` and `sse_relay_upstream_server_up` follow them,
/// so a balancer in front sees a backend that says it is unwell.
struct UpstreamHealthChecker: Sendable {
    let server: UpstreamServer
    let check: UpstreamHealthCheckConfiguration
    let group: any EventLoopGroup

    /// Checks until the task is cancelled.
    func run() async {
        let interval = Duration.milliseconds(Int64(self.check.intervalSeconds * 1000))
        // Ends when the task is cancelled: the relay stops.
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let failure = await self.checkOnce()
            guard !Task.isCancelled else { return }
            self.server.recordCheck(
                passed: failure == nil, reason: failure.map { "health check: \($0)" } ?? "health check passed")
            let next = started + interval
            if next > ContinuousClock.now {
                try? await Task.sleep(until: next)
            }
        }
    }

    /// One check: `nil` when it passed, otherwise why it failed.
    func checkOnce() async -> String? {
        let address: SocketAddress
        do {
            address = try self.server.addresses.nextForConnection()
        } catch {
            return error.detail
        }
        let timeout = TimeAmount.fractionalSeconds(self.check.timeoutSeconds)
        let loop = self.group.next()
        let answer = loop.makePromise(of: HTTPResponseStatus.self)
        let deadline = loop.scheduleTask(in: timeout) {
            answer.fail(HealthCheckTimeout(seconds: self.check.timeoutSeconds))
        }
        let request = HTTPRequestHead(
            version: .http1_1, method: .GET, uri: self.check.path,
            headers: [
                "Host": self.server.hostHeader, "User-Agent": "sse-relay health check", "Connection": "close",
            ])
        let connecting = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { [tls = self.server.tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    // A failed handshake fails the check through the response handler's
                    // errorCaught, and the deadline bounds a stalled one.
                    _ = try tls?.secure(channel, timeout: timeout)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HealthCheckResponseHandler(answer: answer))
                }
            }
            .connect(to: address)
        connecting.whenComplete { result in
            switch result {
            case .success(let channel):
                channel.write(HTTPClientRequestPart.head(request), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                answer.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                answer.fail(
                    UpstreamError.connectFailure(
                        error, upstream: self.server.name, connectTimeoutSeconds: self.check.timeoutSeconds))
            }
        }
        defer { deadline.cancel() }
        do {
            let status = try await answer.futureResult.get()
            return (200..<400).contains(status.code) ? nil : "status \(status.code)"
        } catch let error as UpstreamError {
            return error.detail
        } catch let error as HealthCheckTimeout {
            return error.description
        } catch {
            let failure = UpstreamError.connectFailure(
                error, upstream: self.server.name, connectTimeoutSeconds: self.check.timeoutSeconds)
            return failure.reason == "connect_failed" ? "invalid answer: \(error)" : failure.detail
        }
    }
}

/// A check that took longer than `upstream.health.check.timeoutSeconds`.
private struct HealthCheckTimeout: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "no answer within \(self.seconds.secondsText)" }
}

/// Completes a health check with the status of the response head, or fails it when the
/// connection ends first.
private final class HealthCheckResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let answer: EventLoopPromise<HTTPResponseStatus>

    init(answer: EventLoopPromise<HTTPResponseStatus>) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = self.unwrapInboundIn(data) {
            self.answer.succeed(head.status)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.answer.fail(UpstreamError.closedBeforeResponse)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.answer.fail(error)
        context.close(promise: nil)
    }
}
