import Logging
import NIOCore
import SSERelayCore

/// What keeps the upstream's servers current while the relay runs: an
/// ``UpstreamAddressRefresher`` per server, and an ``UpstreamHealthChecker`` per server when
/// `upstream.health.check` is set, all in one task, cancelled at shutdown or replaced by a
/// reload that changes the servers.
enum UpstreamUpkeep {
    /// Starts the refreshers and checkers of `servers`; a changed address retires `pools`'
    /// connections to the old ones.
    static func start(
        servers: [UpstreamServer], configuration: UpstreamConfiguration, pools: UpstreamPools,
        resolve: @escaping UpstreamAddressRefresher.Resolve, group: any EventLoopGroup, metrics: RelayMetrics,
        logger: Logger
    ) -> Task<Void, Never> {
        let refreshers = servers.map { server in
            UpstreamAddressRefresher(
                addresses: server.addresses, server: server.name,
                interval: .seconds(configuration.resolveIntervalSeconds), resolve: resolve, metrics: metrics,
                logger: logger, onChange: { pools.addressesChanged(of: server, to: $0) })
        }
        let checkers =
            (configuration.health.check.map { check in
                servers.map { UpstreamHealthChecker(server: $0, check: check, group: group) }
            }) ?? []
        return Task {
            await withDiscardingTaskGroup { tasks in
                for refresher in refreshers {
                    tasks.addTask { await refresher.run() }
                }
                for checker in checkers {
                    tasks.addTask { await checker.run() }
                }
            }
        }
    }
}
