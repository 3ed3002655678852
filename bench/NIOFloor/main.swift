import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

// The pass-through floor of bench/compare.sh and bench/instructions/run.sh: the least an
// HTTP/1.1 reverse proxy built on SwiftNIO does per request, so that sse-relay's cost can be
// read against its framework as well as against nginx (figures in docs/benchmarks.md).
//
//   sse-relay-nio-floor LISTEN_PORT UPSTREAM_PORT
//
// It listens on 127.0.0.1:LISTEN_PORT. Each client connection gets one upstream connection to
// 127.0.0.1:UPSTREAM_PORT on the client's event loop, opened when the client connects and kept
// for the client's lifetime. Requests and responses go through NIO's own HTTP/1 pipelines
// (`configureHTTPServerPipeline`, `addHTTPClientHandlers`) and are passed on unchanged, a
// flush per read burst. Nothing else: no header rules, routing, pooling, metrics, logging,
// timers or back-pressure (the benchmark's bodies are 12 bytes). It is a yardstick, not a
// proxy to run.

/// The client's side: forwards request parts to the upstream connection, and writes the
/// upstream's response parts back.
final class ClientSideHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let upstreamAddress: SocketAddress
    private var context: ChannelHandlerContext?
    /// The upstream connection's handler, once connected.
    private var upstream: UpstreamSideHandler?
    /// Request parts that arrived before the upstream connection was up.
    private var waiting: [HTTPClientRequestPart] = []

    init(upstreamAddress: SocketAddress) {
        self.upstreamAddress = upstreamAddress
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        let connecting = ClientBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamSideHandler())
                }
            }
            .connect(to: self.upstreamAddress)
        connecting.assumeIsolated().whenComplete { result in
            guard case .success(let channel) = result,
                let upstream = try? channel.pipeline.syncOperations.handler(type: UpstreamSideHandler.self)
            else {
                context.close(promise: nil)
                return
            }
            upstream.client = self
            self.upstream = upstream
            for part in self.waiting { upstream.write(part) }
            self.waiting = []
            upstream.flush()
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part: HTTPClientRequestPart
        switch self.unwrapInboundIn(data) {
        case .head(let head): part = .head(head)
        case .body(let body): part = .body(.byteBuffer(body))
        case .end(let trailers): part = .end(trailers)
        }
        if let upstream = self.upstream {
            upstream.write(part)
        } else {
            self.waiting.append(part)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.upstream?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.upstream?.close()
        self.upstream = nil
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func write(_ part: HTTPClientResponsePart) {
        guard let context = self.context else { return }
        let response: HTTPServerResponsePart
        switch part {
        case .head(let head): response = .head(head)
        case .body(let body): response = .body(.byteBuffer(body))
        case .end(let trailers): response = .end(trailers)
        }
        context.write(self.wrapOutboundOut(response), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    func close() {
        self.context?.close(promise: nil)
    }
}

/// The upstream connection's side: hands response parts to the client's side.
final class UpstreamSideHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private var context: ChannelHandlerContext?
    /// The client's handler; set once connected, cleared when either side closes.
    var client: ClientSideHandler?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.client?.write(self.unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.client?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.client?.close()
        self.client = nil
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func write(_ part: HTTPClientRequestPart) {
        self.context?.write(self.wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    func close() {
        self.context?.close(promise: nil)
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let listenPort = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
    print("usage: sse-relay-nio-floor LISTEN_PORT UPSTREAM_PORT")
    exit(64)
}
let upstreamAddress = try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort)
let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false)
            try channel.pipeline.syncOperations.addHandler(ClientSideHandler(upstreamAddress: upstreamAddress))
        }
    }
    .bind(host: "127.0.0.1", port: listenPort)
    .wait()
try server.closeFuture.wait()
