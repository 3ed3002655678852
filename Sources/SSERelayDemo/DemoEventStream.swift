import NIOCore
import NIOHTTP1
import NIOPosix
import SSERelay
import SSERelayCore

/// One stream request of a demo client, on a connection of its own, read the way a browser's
/// `EventSource` reads it: events as they complete, and the id it would send as
/// `Last-Event-ID` if it reconnected now.
///
/// Used inside ``open(_:path:lastEventID:group:_:)`` only: leaving the closure closes the
/// connection, which is how a demo client "loses" its stream mid-way.
final class DemoEventStream {
    /// The response head: the status, and the relay's `X-SSE-Relay` verdict.
    let head: HTTPResponseHead
    /// The last id received (priming ids included), as an `EventSource` keeps it.
    private(set) var lastEventID: String?
    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private var parser = EventStreamParser()
    private var isEnded = false

    private init(
        head: HTTPResponseHead,
        lastEventID: String?,
        inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    ) {
        self.head = head
        self.lastEventID = lastEventID
        self.inbound = inbound
    }

    /// Sends `GET path` to `address` (with `Last-Event-ID` when given), waits for the response
    /// head, runs `body` with the stream, then closes the connection.
    static func open<Result: Sendable>(
        _ address: SocketAddress,
        path: String,
        lastEventID: String?,
        group: any EventLoopGroup,
        _ body: (DemoEventStream) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: group)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var request = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
            request.headers.add(name: "Host", value: address.hostAndPort)
            request.headers.add(name: "Accept", value: "text/event-stream")
            if let lastEventID {
                request.headers.add(name: "Last-Event-ID", value: lastEventID)
            }
            try await outbound.write(.head(request))
            try await outbound.write(.end(nil))
            var iterator = inbound.makeAsyncIterator()
            guard case .head(let head) = try await iterator.next() else {
                try Task.checkCancellation()
                throw DemoScenarioError("the relay closed the connection without answering GET \(path)")
            }
            return try await body(DemoEventStream(head: head, lastEventID: lastEventID, inbound: iterator))
        }
    }

    /// The events with data that the next body parts complete, in order: all those of the
    /// first part that completes any, so events that arrive together are reported together.
    /// `nil` at the end of the response.
    func nextEvents() async throws -> [ServerSentEvent]? {
        // Bounded by the relay: each pass consumes one response part, and the response ends.
        while !self.isEnded {
            guard let part = try await self.inbound.next() else {
                try Task.checkCancellation()
                throw DemoScenarioError("the connection closed in the middle of the response")
            }
            switch part {
            case .head:
                throw DemoScenarioError("a second response head inside a response")
            case .body(let buffer):
                var events: [ServerSentEvent] = []
                for case .event(let event) in try self.parser.feed(buffer) {
                    if let id = event.upstreamID {
                        self.lastEventID = id
                    }
                    if event.data != nil {
                        events.append(event)
                    }
                }
                if !events.isEmpty {
                    return events
                }
            case .end:
                self.isEnded = true
            }
        }
        return nil
    }
}
