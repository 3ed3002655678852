import NIOCore
import NIOSSL
import NIOTLS
import SSERelayCore

/// TLS to one `https://` server: the context made once from `upstream.tls`, and what each new
/// connection adds to its pipeline.
///
/// A connection is handed out only once its handshake completed (``secure(_:timeout:)``), so a
/// certificate that does not verify is a failed connect, like a refused one: nothing was sent,
/// the request goes to another server, and the failure counts against this one's health.
struct UpstreamTLS: Sendable {
    let context: NIOSSLContext
    /// The name sent in SNI and verified against the certificate; `nil` for an IP address,
    /// which SNI cannot carry and which is verified against the certificate's IP addresses.
    let serverHostname: String?

    /// Why `upstream.tls` could not be turned into a TLS context.
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// TLS for `url` with `configuration`; `nil` for an `http://` URL.
    init?(for url: UpstreamURL, configuration: UpstreamTLSConfiguration) throws(SetupError) {
        guard url.scheme == .https else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.applicationProtocols = ["http/1.1"]
        if let caFile = configuration.caFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw SetupError(description: "upstream.tls.caFile: cannot read certificates from \(caFile): \(error)")
            }
        }
        if configuration.insecureSkipVerify {
            tls.certificateVerification = .none
        }
        do {
            self.context = try NIOSSLContext(configuration: tls)
        } catch {
            throw SetupError(description: "upstream.tls: cannot set up TLS for \(url): \(error)")
        }
        let isAddress = (try? SocketAddress(ipAddress: url.host, port: url.port)) != nil
        self.serverHostname = isAddress ? nil : url.host
    }

    /// Puts the TLS handler first in `channel`'s pipeline (before the HTTP codec), and returns
    /// a future that succeeds once the handshake completed, or fails with its error, or with
    /// ``TLSHandshakeTimeout`` after `timeout`. Call on the channel's loop, before it is active
    /// (in its initializer) or after (the handshake starts when the handler is added).
    func secure(_ channel: any Channel, timeout: TimeAmount) throws -> EventLoopFuture<Void> {
        let handshake = channel.eventLoop.makePromise(of: Void.self)
        let handler = try NIOSSLClientHandler(context: self.context, serverHostname: self.serverHostname)
        try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        try channel.pipeline.syncOperations.addHandler(
            TLSHandshakeWaiter(handshake: handshake), position: .after(handler))
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            handshake.fail(TLSHandshakeTimeout())
            channel.close(promise: nil)
        }
        handshake.futureResult.whenComplete { _ in timer.cancel() }
        return handshake.futureResult
    }
}

/// A TLS handshake that did not complete within `upstream.connectTimeoutSeconds`.
struct TLSHandshakeTimeout: Error, CustomStringConvertible {
    var description: String { "the TLS handshake did not complete in time" }
}

/// Completes a promise when the TLS handshake completes or fails, then leaves the pipeline, so
/// reads after the handshake pass one handler fewer.
private final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let handshake: EventLoopPromise<Void>

    init(handshake: EventLoopPromise<Void>) {
        self.handshake = handshake
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            self.handshake.succeed()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.handshake.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.handshake.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}
