import Logging
import NIOConcurrencyHelpers
import NIOCore
import SSERelayCore
import Synchronization

/// One server of `upstream.servers`, shared by every event loop: its addresses, its health, its
/// metrics. Each loop has a pool of connections to it (``UpstreamConnectionPool``).
///
/// Failures of real traffic count only when there are several servers: with one there is
/// nowhere else to send a request, and the balancer sends it there whatever its health says.
/// An active check, when configured, counts with one server too: `/readyz` and the metrics
/// follow it (see ``UpstreamHealthChecker``). Reads are
/// lock-free (``takesTraffic(at:)`` compares one atomic with the clock, for every server a
/// request could go to); outcomes take the lock only when they could change something, which
/// on a healthy server is never for a success.
final class UpstreamServer: Sendable {
    /// The server's place in `upstream.servers`, and its bit in a set of servers tried.
    let index: Int
    let configuration: UpstreamServerConfiguration
    /// The addresses its host name stands for, kept current by an ``UpstreamAddressRefresher``.
    let addresses: UpstreamAddresses
    /// The server's own hash for ``RendezvousPlacement``, from its host and port, so it does
    /// not depend on the order of the list.
    let placementHash: UInt64
    /// The `Host` sent to this server for a request that came without one, made once rather
    /// than for every request.
    let hostHeader: String
    /// TLS to the server, for an `https://` URL.
    let tls: UpstreamTLS?
    /// Whether there are other servers, and so whether failures of real traffic count.
    let tracksHealth: Bool
    let metrics: UpstreamServerMetrics
    private let logger: Logger
    private let health: NIOLockedValueBox<ServerHealth>
    /// ``ServerHealth/takesTrafficFrom`` in uptime nanoseconds, written under the lock.
    private let takesTrafficFrom = Atomic<UInt64>(0)
    /// Whether a failure was recorded since the health was last clean: a success takes the lock
    /// only then.
    private let hasFailures = Atomic<Bool>(false)

    init(
        index: Int, configuration: UpstreamServerConfiguration, addresses: UpstreamAddresses,
        health: UpstreamHealthConfiguration, tls: UpstreamTLS? = nil, tracksHealth: Bool,
        metrics: UpstreamServerMetrics, logger: Logger
    ) {
        self.tls = tls
        self.index = index
        self.configuration = configuration
        self.addresses = addresses
        self.placementHash = RendezvousPlacement.stableHash(configuration.url.address.description.utf8)
        self.hostHeader = configuration.url.hostHeader
        self.tracksHealth = tracksHealth
        self.metrics = metrics
        self.logger = logger
        self.health = NIOLockedValueBox(
            ServerHealth(maxFails: health.maxFails, failTimeout: .fractionalSeconds(health.failTimeoutSeconds)))
        metrics.setInRotation(true)
    }

    /// The servers of `configuration`, each with its name resolved once
    /// (``UpstreamAddressRefresher/initialAddresses(for:resolve:metrics:logger:)``), or with the
    /// addresses of the server of `running` at the same host and port (a reload keeps what the
    /// running servers know). Health starts afresh: a reload puts every server in the rotation.
    /// Throws when `upstream.tls` cannot be set up for an `https://` server (a CA file that
    /// does not read).
    static func makeAll(
        for configuration: UpstreamConfiguration, reusing running: [UpstreamServer] = [],
        resolve: UpstreamAddressRefresher.Resolve, metrics: RelayMetrics, logger: Logger
    ) async throws -> [UpstreamServer] {
        if configuration.tls.insecureSkipVerify, configuration.servers.contains(where: { $0.url.scheme == .https }) {
            logger.warning(
                "upstream.tls.insecureSkipVerify is on: the certificates of https upstream servers are not verified, so anyone on the path can read and change the traffic; for tests only"
            )
        }
        var servers: [UpstreamServer] = []
        for (index, server) in configuration.servers.enumerated() {
            let tls = try UpstreamTLS(for: server.url, configuration: configuration.tls)
            let known = running.first { $0.configuration.url.address == server.url.address }?.addresses
            let addresses: UpstreamAddresses
            if let known {
                addresses = known
            } else {
                addresses = await UpstreamAddressRefresher.initialAddresses(
                    for: server.url, resolve: resolve, metrics: metrics, logger: logger)
            }
            servers.append(
                UpstreamServer(
                    index: index, configuration: server, addresses: addresses, health: configuration.health, tls: tls,
                    tracksHealth: configuration.servers.count > 1,
                    metrics: metrics.upstreamServer(server.url.description), logger: logger))
        }
        return servers
    }

    /// The server's URL, as logs, metrics and `/streams` name it.
    var name: String { self.configuration.url.description }

    /// The server's weight.
    var weight: Int { self.configuration.weight }

    /// Whether the server takes traffic at `now`: in the rotation, or on trial after its fail
    /// timeout.
    func takesTraffic(at now: NIODeadline) -> Bool {
        now.uptimeNanoseconds >= self.takesTrafficFrom.load(ordering: .relaxed)
    }

    /// Where the server's health stands, for `/streams`.
    var healthState: ServerHealth.State {
        self.health.withLockedValue { $0.state }
    }

    /// Counts a request or stream sent to the server.
    func countRequest() {
        self.metrics.countRequest()
    }

    /// A request to the server failed in a way that speaks about the server.
    func recordFailure(_ reason: String) {
        guard self.tracksHealth else { return }
        self.metrics.countFailure()
        self.update(reason: reason) { $0.recordFailure(at: .now()) }
    }

    /// A request to the server succeeded.
    func recordSuccess() {
        guard self.tracksHealth, self.hasFailures.load(ordering: .relaxed) else { return }
        self.update(reason: "a request succeeded") { $0.recordSuccess(at: .now()) }
    }

    /// An active check passed or failed (`reason` says how). With a single server too: see
    /// ``UpstreamHealthChecker``.
    func recordCheck(passed: Bool, reason: String) {
        self.update(reason: reason) { $0.recordCheck(passed: passed) }
    }

    private func update(reason: String, _ change: (inout ServerHealth) -> ServerHealth.Transition?) {
        let (transition, state) = self.health.withLockedValue { health in
            let transition = change(&health)
            // Both written under the lock, so they always agree with the state once it is
            // released; readers outside it see one or the other change a moment late.
            self.takesTrafficFrom.store(health.takesTrafficFrom.uptimeNanoseconds, ordering: .relaxed)
            self.hasFailures.store(health.state != .inRotation(failures: 0), ordering: .relaxed)
            return (transition, health.state)
        }
        switch transition {
        case .wentOut?:
            self.metrics.setInRotation(false)
            let until: Logger.MetadataValue
            switch state {
            case .out(let deadline):
                until = "\(Double((deadline - .now()).nanoseconds) / 1e9) s"
            default:
                until = "a health check passes"
            }
            self.logger.warning(
                "upstream server taken out of the rotation",
                metadata: ["server": "\(self.name)", "reason": "\(reason)", "out_for": until])
        case .cameBack?:
            self.metrics.setInRotation(true)
            self.logger.notice(
                "upstream server back in the rotation", metadata: ["server": "\(self.name)", "reason": "\(reason)"])
        case nil:
            break
        }
    }
}
