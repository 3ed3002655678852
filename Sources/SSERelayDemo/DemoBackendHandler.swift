import NIOCore
import NIOHTTP1

/// Serves one connection of the ``DemoBackend``.
final class DemoBackendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let starts: DemoStartCounter
    private let tokenInterval: TimeAmount
    private var timer: Scheduled<Void>?

    init(starts: DemoStartCounter, tokenInterval: TimeAmount) {
        self.starts = starts
        self.tokenInterval = tokenInterval
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = self.unwrapInboundIn(data) else { return }
        let parts = head.uri.split(separator: "?").first?.split(separator: "/") ?? []
        if parts.count == 4, parts[0] == "api", parts[1] == "conversation", parts[3] == "stream" {
            self.streamCompletion(context: context, conversation: String(parts[2]))
        } else if parts.count == 4, parts[0] == "api", parts[1] == "conversation", parts[3] == "starts" {
            self.respond(context: context, status: .ok, body: "\(self.starts.count(String(parts[2])))\n")
        } else {
            self.respond(
                context: context, status: .notFound,
                body: "sse-relay demo backend: try GET /api/conversation/42/stream and /api/conversation/42/starts\n")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        context.fireChannelInactive()
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, body: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        context.write(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// A fake completion: one word per event, no ids (like the chat backends the relay fixes).
    private func streamCompletion(context: ChannelHandlerContext, conversation: String) {
        let number = self.starts.start(conversation)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-cache")
        context.writeAndFlush(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
            promise: nil)
        self.sendToken(context: context, index: 0, completion: number)
    }

    private func sendToken(context: ChannelHandlerContext, index: Int, completion: Int) {
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(in: self.tokenInterval) {
            guard index < DemoBackend.completion.count else {
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            let frame = "data: {\"completion\": \(completion), \"token\": \"\(DemoBackend.completion[index])\"}\n\n"
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: frame)))), promise: nil)
            self.sendToken(context: context, index: index + 1, completion: completion)
        }
    }
}
