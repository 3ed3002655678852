import NIOCore
import NIOEmbedded
import NIOHTTP1
import SSERelayCore

/// Runs bytes through `HTTPRequestDecoder` on an `EmbeddedChannel`, the way the relay's client
/// pipeline and, standing in for the backend, an HTTP/1.1 server read them.
enum RequestDecoding {
    /// What one connection's bytes decode to.
    struct Outcome {
        var requests: [DecodedRequest] = []
        /// The error that stopped the decoder, if any.
        var error: (any Error)?
        /// Bytes the decoder did not consume because the last request switched protocols.
        var leftoverBytes = 0
        /// Parts that came out of order (a body before a head): never expected from NIO.
        var isMalformed = false
    }

    /// The limits `ProxyServer.initializeClientChannel` gives the client decoder with the
    /// default `limits.maxHeaderBytes` (32768) and `ProxySettings.maxHeaderFieldCount` (256).
    static var relayLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        let maxHeaderBytes = LimitsConfiguration().maxHeaderBytes
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldSize = maxHeaderBytes
        limits.maxHeaderFieldCount = 256
        return limits
    }

    /// Limits no request of the harness reaches: the upstream's own limits are not under test.
    static var upstreamLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = 1 << 22
        limits.maxHeaderFieldSize = 1 << 22
        limits.maxHeaderFieldCount = 1 << 16
        return limits
    }

    /// Decodes `bytes` as the relay's client pipeline does (`leftOverBytesStrategy:
    /// .forwardBytes`, the relay's limits).
    static func decodeAsRelay(_ bytes: ByteBuffer) -> Outcome {
        self.decode(bytes, limits: self.relayLimits, countLeftovers: false)
    }

    /// Decodes what the relay wrote upstream, counting bytes left after a protocol switch.
    static func decodeAsUpstream(_ bytes: ByteBuffer) -> Outcome {
        self.decode(bytes, limits: self.upstreamLimits, countLeftovers: true)
    }

    private static func decode(
        _ bytes: ByteBuffer,
        limits: NIOHTTPDecoderLimitConfiguration,
        countLeftovers: Bool
    ) -> Outcome {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let decoder = ByteToMessageHandler(
            HTTPRequestDecoder(
                leftOverBytesStrategy: countLeftovers ? .fireError : .forwardBytes,
                limitConfiguration: limits
            )
        )
        var outcome = Outcome()
        do {
            try channel.pipeline.syncOperations.addHandler(decoder)
        } catch {
            fatalError("harness: cannot add the decoder: \(error)")
        }
        do {
            try channel.writeInbound(bytes)
        } catch {
            outcome.error = error
        }
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head):
                outcome.requests.append(DecodedRequest(head: head))
            case .body(let body):
                guard !outcome.requests.isEmpty, !outcome.requests[outcome.requests.count - 1].isComplete else {
                    outcome.isMalformed = true
                    continue
                }
                outcome.requests[outcome.requests.count - 1].body.append(body)
            case .end(let trailers):
                guard !outcome.requests.isEmpty, !outcome.requests[outcome.requests.count - 1].isComplete else {
                    outcome.isMalformed = true
                    continue
                }
                outcome.requests[outcome.requests.count - 1].trailers = trailers
                outcome.requests[outcome.requests.count - 1].isComplete = true
            }
        }
        if countLeftovers, outcome.error == nil {
            // Removing the decoder surfaces unconsumed bytes as `leftoverDataWhenDone`.
            channel.pipeline.syncOperations.removeHandler(decoder, promise: nil)
            channel.embeddedEventLoop.run()
            do {
                try channel.throwIfErrorCaught()
            } catch ByteToMessageDecoderError.leftoverDataWhenDone(let buffer) {
                outcome.leftoverBytes = buffer.readableBytes
            } catch {
                outcome.error = error
            }
        }
        return outcome
    }
}
