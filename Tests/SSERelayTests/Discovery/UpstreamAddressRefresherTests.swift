import Logging
import NIOConcurrencyHelpers
import NIOCore
import SSERelayCore
import Testing

@testable import SSERelay

@Suite("Upstream address refresher")
struct UpstreamAddressRefresherTests {
    private static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    private static func address(_ ip: String) throws -> SocketAddress {
        try SocketAddress(ipAddress: ip, port: 3000)
    }

    /// A resolver that answers from a script, one answer per call (the last one repeats), and
    /// tells `calls` of each call.
    private final class ScriptedResolver: Sendable {
        private let answers: NIOLockedValueBox<[Result<[SocketAddress], SystemHostResolver.Failure>]>
        let calls: AsyncStream<String>
        private let callsContinuation: AsyncStream<String>.Continuation

        init(_ answers: [Result<[SocketAddress], SystemHostResolver.Failure>]) {
            self.answers = NIOLockedValueBox(answers)
            (self.calls, self.callsContinuation) = AsyncStream.makeStream()
        }

        func resolve(host: String, port: Int) throws -> [SocketAddress] {
            self.callsContinuation.yield("\(host):\(port)")
            let answer = self.answers.withLockedValue { answers in
                answers.count > 1 ? answers.removeFirst() : answers[0]
            }
            return try answer.get()
        }
    }

    private static func refresher(
        _ addresses: UpstreamAddresses, _ resolver: ScriptedResolver, metrics: RelayMetrics,
        interval: Duration = .seconds(3600)
    ) -> UpstreamAddressRefresher {
        UpstreamAddressRefresher(
            addresses: addresses, server: "http://backend:3000", interval: interval,
            resolve: { try resolver.resolve(host: $0, port: $1) },
            metrics: metrics, logger: Self.logger)
    }

    @Test("a resolution with other addresses replaces them and is counted as a change; the same ones are not")
    func changeAndNoChange() async throws {
        let metrics = RelayMetrics()
        let addresses = UpstreamAddresses(host: "backend", port: 3000, resolved: [try Self.address("10.0.0.1")])
        let moved = [try Self.address("10.0.0.2"), try Self.address("10.0.0.3")]
        let refresher = Self.refresher(
            addresses, ScriptedResolver([.success(moved), .success(moved)]), metrics: metrics)
        #expect(await refresher.resolveOnce(failing: false) == false)
        #expect(addresses.current == moved)
        #expect(await refresher.resolveOnce(failing: false) == false)
        let outcomes = { (outcome: String) in
            try RelayMetricsProbe.value(metrics, "sse_relay_upstream_resolutions_total", ["outcome": outcome])
        }
        #expect(try outcomes("changed") == 1)
        #expect(try outcomes("unchanged") == 1)
        #expect(
            try RelayMetricsProbe.value(metrics, "sse_relay_upstream_addresses", ["server": "http://backend:3000"]) == 2
        )
    }

    @Test("a name that stops resolving keeps its addresses, says why, and recovers")
    func failureKeepsAddresses() async throws {
        let metrics = RelayMetrics()
        let known = [try Self.address("10.0.0.1")]
        let addresses = UpstreamAddresses(host: "backend", port: 3000, resolved: known)
        let failure = SystemHostResolver.Failure(description: "backend does not resolve: Name or service not known")
        let refresher = Self.refresher(
            addresses, ScriptedResolver([.failure(failure), .success(known)]), metrics: metrics)
        #expect(await refresher.resolveOnce(failing: false) == true)
        #expect(addresses.current == known)
        #expect(addresses.next() == known[0])
        #expect(await refresher.resolveOnce(failing: true) == false)
        #expect(
            try RelayMetricsProbe.value(metrics, "sse_relay_upstream_resolutions_total", ["outcome": "failed"]) == 1)
    }

    @Test("a failed connect makes it resolve at once, long before the interval; cancelling stops it")
    func connectFailureResolvesEarly() async throws {
        let addresses = UpstreamAddresses(host: "backend", port: 3000, resolved: [try Self.address("10.0.0.1")])
        let resolver = ScriptedResolver([.success([try Self.address("10.0.0.9")])])
        let refresher = Self.refresher(addresses, resolver, metrics: RelayMetrics())
        let running = Task { await refresher.run() }
        addresses.connectFailed()
        var calls = resolver.calls.makeAsyncIterator()
        #expect(await calls.next() == "backend:3000")
        running.cancel()
        await running.value
    }

    @Test("the interval alone brings the next resolution")
    func interval() async throws {
        let addresses = UpstreamAddresses(host: "backend", port: 3000, resolved: [try Self.address("10.0.0.1")])
        let resolver = ScriptedResolver([.success([try Self.address("10.0.0.1")])])
        let refresher = Self.refresher(addresses, resolver, metrics: RelayMetrics(), interval: .milliseconds(10))
        let running = Task { await refresher.run() }
        var calls = resolver.calls.makeAsyncIterator()
        #expect(await calls.next() != nil)
        #expect(await calls.next() != nil)
        running.cancel()
        await running.value
    }

    @Test("an IP address is never resolved")
    func literalNeverResolves() async throws {
        let addresses = UpstreamAddresses(host: "127.0.0.1", port: 3000)
        let resolver = ScriptedResolver([.success([])])
        // Returns at once: with a name, this would wait an hour.
        await Self.refresher(addresses, resolver, metrics: RelayMetrics()).run()
    }

    @Test("the system resolver answers from /etc/hosts, and names what does not resolve")
    func systemResolver() async throws {
        let addresses = try await SystemHostResolver().resolve(host: "localhost", port: 8080)
        #expect(addresses.contains { $0.ipAddress == "127.0.0.1" || $0.ipAddress == "::1" })
        #expect(addresses.allSatisfy { $0.port == 8080 })
        #expect(Set(addresses).count == addresses.count)
        let error = await #expect(throws: SystemHostResolver.Failure.self) {
            try await SystemHostResolver().resolve(host: "no-such-host.invalid", port: 80)
        }
        #expect(error?.description.contains("no-such-host.invalid") == true)
    }
}
