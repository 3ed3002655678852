public import Logging
import NIOCore
import Prometheus
import SSERelay
public import SSERelayCore
public import ServiceLifecycle

/// `sse-relay demo` as a service: the ``DemoBackend`` and a relay in front of it, the scripted
/// ``DemoScenario`` told on `output` as it happens, then serving until a graceful shutdown
/// (Ctrl-C), with instructions to try it by hand.
///
/// It runs the relay's `ProxyServer` itself rather than `RelayService`, because the
/// scenario needs the address the relay was actually given (the demo listens on port 0), and
/// the demo has no use for systemd or the admin listener.
public struct DemoService: Service {
    private let configuration: RelayConfiguration
    private let runsScenario: Bool
    private let logger: Logger
    private let output: @Sendable (String) -> Void

    /// - Parameters:
    ///   - configuration: the relay's configuration; its upstream is replaced by the demo backend.
    ///   - runsScenario: whether to run the scripted scenario before serving.
    ///   - output: receives the demo's account, one line at a time (the log goes to `logger`).
    public init(
        configuration: RelayConfiguration,
        runsScenario: Bool = true,
        logger: Logger,
        output: @escaping @Sendable (String) -> Void
    ) {
        self.configuration = configuration
        self.runsScenario = runsScenario
        self.logger = logger
        self.output = output
    }

    public func run() async throws {
        let backend = try await DemoBackend.bind()
        var configuration = self.configuration
        configuration.admin.listen = nil
        let relay: ProxyServer
        do {
            guard let port = backend.localAddress.port else { throw ChannelError.unknownLocalAddress }
            configuration.upstream.url = UpstreamURL(host: "127.0.0.1", port: port)
            relay = try await ProxyServer.bind(configuration: configuration, logger: self.logger)
        } catch {
            await backend.close()
            throw error
        }
        // The line `sse-relay serve` logs too, with the address the relay was given: scripts
        // (and the command-line tests) wait for it.
        self.logger.notice(
            "sse-relay listening",
            metadata: [
                "listen": "\(relay.localAddress.hostAndPort)", "upstream": "\(configuration.upstream.url)",
            ])
        let narrator = DemoNarrator(output: self.output)
        self.introduce(relay: relay, backend: backend, narrator: narrator)
        if self.runsScenario {
            let scenario = DemoScenario(relay: relay.localAddress, backend: backend, narrator: narrator)
            narrator.say()
            do {
                // Ctrl-C during the scenario ends it and the demo.
                _ = try await cancelWhenGracefulShutdown { try await scenario.run() }
            } catch {
                // Ctrl-C ends the scenario early: nothing went wrong then.
                if !(error is CancellationError), !Task.isShuttingDownGracefully {
                    narrator.say("The scenario failed: \(error)")
                }
            }
        }
        if !Task.isShuttingDownGracefully {
            if self.runsScenario {
                Self.summarizeMetrics(of: relay, narrator: narrator)
            }
            self.instruct(relay: relay, narrator: narrator)
        }
        try? await gracefulShutdown()
        await relay.shutdown(gracePeriod: TimeAmount(.seconds(configuration.shutdownGraceSeconds)))
        await backend.close()
    }

    private func introduce(relay: ProxyServer, backend: DemoBackend, narrator: DemoNarrator) {
        let interval = backend.tokenInterval.nanoseconds / 1_000_000
        narrator.say("sse-relay demo: a fake chat backend and the relay in front of it, on free ports.")
        narrator.say(
            "  backend  http://\(backend.localAddress.hostAndPort)  each GET /api/conversation/:id/stream starts "
                + "a new completion:")
        narrator.say(
            "                                 \(DemoBackend.completion.count) words as SSE events without ids, "
                + "one every \(interval) ms")
        narrator.say("  relay    http://\(relay.localAddress.hostAndPort)  in front of it")
    }

    /// The relay's own count of what happened, from the counters its `/metrics` serves (read
    /// from its registry: the figures `/metrics` brings up to date when scraped are gauges, and
    /// the account needs none of them).
    private static func summarizeMetrics(of relay: ProxyServer, narrator: DemoNarrator) {
        var values: [String: String] = [:]
        for line in relay.metrics.registry.emitToString().split(separator: "\n")
        where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            values[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        func value(_ name: String) -> String {
            let text = values[name] ?? "0"
            return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
        }
        let outcomes = RelayMetrics.StreamOutcome.allCases.compactMap { outcome -> String? in
            let count = value("sse_relay_stream_requests_total{outcome=\"\(outcome.rawValue)\"}")
            return count == "0" ? nil : "\(outcome.rawValue) \(count)"
        }
        narrator.say()
        narrator.say("The relay's metrics (GET /metrics on its admin listener, off in the demo):")
        narrator.say("  stream requests: \(outcomes.joined(separator: ", "))")
        narrator.say(
            "  upstream streams started \(value("sse_relay_upstream_streams_started_total")), "
                + "events received \(value("sse_relay_events_received_total")), "
                + "delivered \(value("sse_relay_events_delivered_total")) "
                + "(replayed \(value("sse_relay_events_replayed_total"))), "
                + "ids injected \(value("sse_relay_ids_injected_total"))")
    }

    private func instruct(relay: ProxyServer, narrator: DemoNarrator) {
        let stream = "http://\(relay.localAddress.hostAndPort)/api/conversation/42/stream"
        narrator.say()
        narrator.say("Try it yourself (the demo serves until Ctrl-C):")
        narrator.say("  curl -N \(stream)")
        narrator.say("      in two terminals at once: both get the same answer, and the backend starts it once")
        narrator.say("  curl -iN -H 'Last-Event-ID: <an id curl printed>' \(stream)")
        narrator.say("      resumes after that id without a new completion; 204 once the answer is over")
        narrator.say("  curl http://\(relay.localAddress.hostAndPort)/api/conversation/42/starts")
        narrator.say("      how many completions the backend started for conversation 42")
    }
}
