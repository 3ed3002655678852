public import NIOCore
import NIOHTTP1
public import NIOPosix

/// The backend of `sse-relay demo`: a stand-in for a chat backend that starts an LLM completion
/// on every `GET /api/conversation/:id/stream`, streams it as SSE frames without ids, and counts
/// how many completions each conversation started (`GET /api/conversation/:id/starts`), so the
/// relay's collapsing and resumption can be watched with curl alone.
public final class DemoBackend: Sendable {
    /// The words of the fake completion, one per event.
    static let completion =
        "Server-Sent Events reconnect whenever a stream ends, so every reconnect used to start this answer again."
        .split(separator: " ").map(String.init)

    /// The address the demo backend listens on.
    public let localAddress: SocketAddress
    /// The time between two words of a completion.
    public let tokenInterval: TimeAmount
    private let channel: any Channel
    private let starts: DemoStartCounter

    private init(
        localAddress: SocketAddress, tokenInterval: TimeAmount, channel: any Channel, starts: DemoStartCounter
    ) {
        self.localAddress = localAddress
        self.tokenInterval = tokenInterval
        self.channel = channel
        self.starts = starts
    }

    /// Binds the demo backend on `host` with an OS-chosen port.
    public static func bind(
        host: String = "127.0.0.1",
        tokenInterval: TimeAmount = .milliseconds(150),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> DemoBackend {
        let starts = DemoStartCounter()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try channel.pipeline.syncOperations.addHandler(
                        DemoBackendHandler(starts: starts, tokenInterval: tokenInterval))
                }
            }
            .bind(host: host, port: 0)
            .get()
        guard let address = channel.localAddress else { throw ChannelError.unknownLocalAddress }
        return DemoBackend(localAddress: address, tokenInterval: tokenInterval, channel: channel, starts: starts)
    }

    /// How many completions `conversation` has started: what the demo shows the relay saves.
    public func completionsStarted(conversation: String) -> Int {
        self.starts.count(conversation)
    }

    /// Stops accepting connections (those already open finish their completions).
    public func close() async {
        try? await self.channel.close()
    }
}
