import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Answers the admin listener's requests: `/metrics`, `/streams`, `/streams/{generation}`,
/// `/healthz` and `/readyz`, behind `admin.token` when one is set.
///
/// Runs behind NIO's server pipeline with pipelining assistance, so responses go out in
/// request order even when one waits for the readiness probe or for clients' loops.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let proxy: ProxyServer
    private let token: BearerToken?
    private let probe: UpstreamProbe
    private let logger: Logger
    private var request: HTTPRequestHead?

    init(proxy: ProxyServer, token: BearerToken?, probe: UpstreamProbe, logger: Logger) {
        self.proxy = proxy
        self.token = token
        self.probe = probe
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.request = head
        case .body:
            break
        case .end:
            guard let head = self.request else { return }
            self.request = nil
            self.respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == .GET || head.method == .HEAD else {
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "GET, HEAD")
            return self.send(
                .methodNotAllowed, "only GET and HEAD are served here\n", headers: headers, to: head, context)
        }
        if let token, !token.accepts(authorization: head.headers.first(name: "authorization")) {
            // No detail on what was wrong: missing and wrong tokens look the same.
            self.logger.notice(
                "admin request without a valid token",
                metadata: ["path": "\(head.uri)", "client": "\(context.channel.remoteAddress?.ipAddress ?? "-")"])
            var headers = HTTPHeaders()
            headers.add(name: "WWW-Authenticate", value: #"Bearer realm="sse-relay""#)
            return self.send(.unauthorized, "a valid admin token is required\n", headers: headers, to: head, context)
        }
        guard let endpoint = AdminEndpoint(target: head.uri) else {
            return self.send(
                .notFound, "not found; try /metrics, /streams, /healthz or /readyz\n", to: head, context)
        }
        switch endpoint {
        case .metrics:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            self.send(.ok, self.proxy.metricsExposition(), headers: headers, to: head, context)
        case .health:
            self.send(.ok, "ok\n", to: head, context)
        case .readiness:
            guard !self.proxy.isDraining else {
                return self.send(.serviceUnavailable, "draining: the relay is shutting down\n", to: head, context)
            }
            self.probe.check().hop(to: context.eventLoop).assumeIsolated().whenSuccess { failure in
                if let failure {
                    self.send(.serviceUnavailable, "not ready: \(failure)\n", to: head, context)
                } else if self.proxy.cluster?.node.isDegraded ?? false {
                    // Still ready: it serves every request, as a single node would.
                    self.send(
                        .ok, "ready (degraded: the cluster directory cannot be reached; serving as a single node)\n",
                        to: head, context)
                } else {
                    self.send(.ok, "ready\n", to: head, context)
                }
            }
        case .streams:
            self.sendReport(generation: nil, to: head, context)
        case .stream(let generation):
            self.sendReport(generation: generation, to: head, context)
        }
    }

    private func sendReport(generation: String?, to head: HTTPRequestHead, _ context: ChannelHandlerContext) {
        let servers = self.proxy.upstreamServers
        let cluster = self.proxy.cluster?.node
        self.proxy.inspectGenerations(token: generation, on: context.eventLoop)
            .map { StreamsReport(servers: servers, generations: $0, cluster: cluster) }
            .hop(to: context.eventLoop).assumeIsolated()
            .whenComplete { result in
                let encoder = JSONEncoder()
                // Pretty, and with sorted keys so the same state always reads the same: people read
                // this with curl and diff it.
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                switch result {
                case .success(let report) where generation != nil:
                    guard let one = report.generations.first, let json = try? encoder.encode(one) else {
                        return self.send(.notFound, "no generation \(generation ?? "")\n", to: head, context)
                    }
                    self.send(.ok, Array(json) + [UInt8(ascii: "\n")], headers: headers, to: head, context)
                case .success(let report):
                    guard let json = try? encoder.encode(report) else {
                        return self.send(.internalServerError, "could not encode the streams\n", to: head, context)
                    }
                    self.send(.ok, Array(json) + [UInt8(ascii: "\n")], headers: headers, to: head, context)
                case .failure:
                    self.send(.internalServerError, "could not gather the streams\n", to: head, context)
                }
            }
    }

    private func send(
        _ status: HTTPResponseStatus, _ text: String, headers: HTTPHeaders = [:], to request: HTTPRequestHead,
        _ context: ChannelHandlerContext
    ) {
        var headers = headers
        if !headers.contains(name: "content-type") {
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        }
        self.send(status, Array(text.utf8), headers: headers, to: request, context)
    }

    private func send(
        _ status: HTTPResponseStatus, _ body: [UInt8], headers: HTTPHeaders, to request: HTTPRequestHead,
        _ context: ChannelHandlerContext
    ) {
        guard context.channel.isActive else { return }
        var headers = headers
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        let keepAlive = request.isKeepAlive
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        }
        context.write(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil)
        if request.method != .HEAD {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive {
                channel.close(promise: nil)
            }
        }
    }
}
