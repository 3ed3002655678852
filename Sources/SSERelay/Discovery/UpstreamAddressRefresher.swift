import Logging
import NIOCore
import SSERelayCore

/// Keeps ``UpstreamAddresses`` current: resolves the upstream's host name every
/// `upstream.resolveIntervalSeconds`, and early when a connection could not be opened (at most
/// once per ``minimumGap``), so a backend that got a new address (a restarted container) is
/// followed without restarting the relay.
///
/// A change is logged with the old and new addresses and counted; a failure is logged once
/// when it begins and once when it ends, and the known addresses stay in use meanwhile.
/// Connections already open keep their address: a stream on a backend that moved finishes
/// there.
struct UpstreamAddressRefresher: Sendable {
    /// Resolves a host name and port to addresses: ``SystemHostResolver/resolve(host:port:)``,
    /// or a test's stand-in.
    typealias Resolve = @Sendable (_ host: String, _ port: Int) async throws -> [SocketAddress]

    let addresses: UpstreamAddresses
    /// The server's URL, as the metrics name it.
    let server: String
    let interval: Duration
    let resolve: Resolve
    let metrics: RelayMetrics
    let logger: Logger
    /// Called with the new addresses after a change, so connections to old ones are retired.
    var onChange: @Sendable ([SocketAddress]) -> Void = { _ in }

    /// The least time between two resolutions, whatever asks for them: a backend that refuses
    /// every connection must not turn into a resolution per request.
    static let minimumGap = Duration.seconds(1)

    /// The upstream's addresses at start: `url`'s host resolved once before serving, so the
    /// first requests wait on no name server. A name that does not resolve is logged and
    /// retried by ``run()``; until it resolves, requests that need a new connection get `502`
    /// and `/readyz` says why.
    static func initialAddresses(
        for url: UpstreamURL, resolve: Resolve, metrics: RelayMetrics, logger: Logger
    ) async -> UpstreamAddresses {
        let literal = UpstreamAddresses(host: url.host, port: url.port)
        guard !literal.isFixed else {
            metrics.setUpstreamAddresses(1, server: url.description)
            return literal
        }
        do {
            let resolved = try await resolve(url.host, url.port)
            metrics.recordUpstreamResolution(.changed, server: url.description, addresses: resolved.count)
            logger.info(
                "upstream name resolved",
                metadata: [
                    "upstream": "\(literal.name)", "addresses": .array(resolved.map { .string($0.hostAndPort) }),
                ])
            return UpstreamAddresses(host: url.host, port: url.port, resolved: resolved)
        } catch {
            metrics.recordUpstreamResolution(.failed, server: url.description, addresses: 0)
            logger.warning(
                "upstream name does not resolve; requests get 502 until it does",
                metadata: ["upstream": "\(literal.name)", "error": "\(error)"])
            return UpstreamAddresses(host: url.host, port: url.port, error: "\(error)")
        }
    }

    /// Resolves until cancelled. The first resolution happened before serving
    /// (``initialAddresses(for:resolve:metrics:logger:)``); this starts with the wait.
    func run() async {
        guard !self.addresses.isFixed else { return }
        var failing = self.addresses.resolutionError != nil
        // Ends when the task is cancelled: the relay stops.
        while !Task.isCancelled {
            guard await self.waitForNextResolution() else { return }
            let started = ContinuousClock.now
            failing = await self.resolveOnce(failing: failing)
            // The gap counts from this resolution's start, so a failed connect right after it
            // waits out the rest of the gap.
            let elapsed = ContinuousClock.now - started
            if elapsed < Self.minimumGap {
                try? await Task.sleep(for: Self.minimumGap - elapsed)
            }
        }
    }

    /// Waits for the interval or a failed connect, whichever comes first; `false` when the
    /// relay is stopping.
    private func waitForNextResolution() async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: self.interval)
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                await self.addresses.waitForConnectFailure()
                return true
            }
            let next = await group.next() ?? false
            group.cancelAll()
            return next && !Task.isCancelled
        }
    }

    /// One resolution; returns whether the name is failing to resolve now.
    func resolveOnce(failing: Bool) async -> Bool {
        let before = self.addresses.current
        do {
            let resolved = try await self.resolve(self.addresses.host, self.addresses.port)
            let changed = self.addresses.update(resolved)
            self.metrics.recordUpstreamResolution(
                changed ? .changed : .unchanged, server: self.server, addresses: resolved.count)
            if failing {
                self.logger.notice(
                    "upstream name resolves again", metadata: ["upstream": "\(self.addresses.name)"])
            }
            if changed {
                self.onChange(resolved)
                self.logger.notice(
                    "upstream addresses changed",
                    metadata: [
                        "upstream": "\(self.addresses.name)",
                        "before": .array(before.map { .string($0.hostAndPort) }),
                        "after": .array(resolved.map { .string($0.hostAndPort) }),
                    ])
            }
            return false
        } catch {
            self.addresses.resolutionFailed("\(error)")
            self.metrics.recordUpstreamResolution(.failed, server: self.server, addresses: before.count)
            if !failing {
                self.logger.warning(
                    "upstream name does not resolve; the known addresses stay in use",
                    metadata: [
                        "upstream": "\(self.addresses.name)", "error": "\(error)",
                        "addresses": .array(before.map { .string($0.hostAndPort) }),
                    ])
            }
            return true
        }
    }
}
