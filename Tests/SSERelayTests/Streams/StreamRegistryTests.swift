import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// ``StreamRegistry`` without sockets: generations started on an `EmbeddedEventLoop` and fed
/// events directly.
@Suite("StreamRegistry")
struct StreamRegistryTests {
    private static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    private static func event(_ number: Int) -> ServerSentEvent {
        ServerSentEvent(lines: [ServerSentEvent.Line(field: "data", raw: Array("data: event \(number)".utf8))])
    }

    /// Starts a generation for conversation `name`.
    private static func start(_ name: String, in registry: StreamRegistry, on loop: EmbeddedEventLoop) throws
        -> Generation
    {
        let route = StreamRouteConfiguration.defaultRoute
        let key = try #require(
            StreamKey(route: route, target: "/api/conversation/\(name)/stream", headers: [:]))
        let admission = registry.resolve(key: key, route: route, lastEventID: nil, client: nil, eventLoop: loop)
        guard case .admitted(.start, let generation?) = admission else {
            Issue.record("expected a start, got \(admission)")
            throw CancellationError()
        }
        return generation
    }

    @Test("at limits.replayMemoryBytes open generations give up their oldest events in turn, none is emptied")
    func reclaimIsRoundRobin() throws {
        let loop = EmbeddedEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        // Room for about 30 events of the ~290 bytes each counts as.
        var limits = LimitsConfiguration()
        limits.replayMemoryBytes = 30 * 290
        let registry = StreamRegistry(limits: limits, metrics: RelayMetrics(), logger: Self.logger)
        let generations = try (0..<3).map { try Self.start("c\($0)", in: registry, on: loop) }
        // A held generation and its registry refer to each other until it is discarded.
        defer {
            for generation in generations { generation.discard() }
        }
        for number in 1...100 {
            for generation in generations {
                generation.received(Self.event(number), at: .now())
            }
            #expect(registry.totalReplayBytes <= limits.replayMemoryBytes)
        }
        let retained = generations.map { $0.snapshot().log.count }
        // Each keeps about a third of what fits, and each still holds its newest event.
        #expect(retained.allSatisfy { $0 >= 5 }, "retained \(retained)")
        #expect((retained.max() ?? 0) - (retained.min() ?? 0) <= 1, "retained \(retained)")
        for generation in generations {
            #expect(generation.snapshot().log.nextSequence == 101)
        }
    }
}
