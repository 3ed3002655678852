import Logging
import NIOConcurrencyHelpers
public import SSERelayCore

extension ProxyServer {
    /// Applies what a reload can change to requests that start from now on: stream routes and
    /// their options, limits, `log.headers` and `log.redactQueryParameters`, the whole
    /// `upstream` section, and the shutdown grace period. Returns the changed keys that only a
    /// restart applies (listeners, the admin listener and token, the log format, the `cluster`
    /// section); those keep their running values.
    ///
    /// An upstream change other than `responseTimeoutSeconds` (read per request) replaces the
    /// servers (``UpstreamPools/replaceServers(with:configuration:capacity:)``): new requests
    /// and streams go to the new ones, with new pools; exchanges and streams in flight finish
    /// where they are. Name resolution and health checks restart for the new servers, which
    /// keep the addresses of running servers at the same host and port, and all start in the
    /// rotation. When the new servers cannot be set up (an `upstream.tls.caFile` that does not
    /// read), this throws before anything changed: the running configuration stays whole.
    public func reconfigure(_ new: RelayConfiguration) async throws -> [String] {
        let running = self.configuration
        var needsRestart: [String] = []
        if new.listen != running.listen { needsRestart.append("listen") }
        if new.admin != running.admin { needsRestart.append("admin") }
        if new.log.format != running.log.format { needsRestart.append("log.format") }
        if new.cluster != running.cluster { needsRestart.append("cluster") }

        if Self.serversDiffer(new.upstream, running.upstream) {
            try await self.replaceUpstream(with: new.upstream, limits: new.limits)
        }
        var applied = running
        applied.streams = new.streams
        applied.limits = new.limits
        applied.upstream = new.upstream
        applied.shutdownGraceSeconds = new.shutdownGraceSeconds
        applied.log.level = new.log.level
        applied.log.headers = new.log.headers
        applied.log.redactQueryParameters = new.log.redactQueryParameters
        self.settings.replace(with: applied)
        // The registries that keep their limits under locks of their own take their part.
        self.connections.limit =
            ConnectionCapacity(
                descriptorLimit: self.capacity.descriptorLimit,
                maxConnections: applied.limits.maxConnections,
                upstreamMaxConnections: applied.upstream.maxConnections
            ).clientConnections
        self.streams.apply(applied.limits)
        return needsRestart
    }

    /// Checks that TLS can be set up for every `https://` server of `upstream` (its
    /// `upstream.tls.caFile` reads), as the start would; throws what the start would throw.
    public static func checkUpstreamTLS(_ upstream: UpstreamConfiguration) throws {
        for server in upstream.servers {
            _ = try UpstreamTLS(for: server.url, configuration: upstream.tls)
        }
    }

    /// Checks that the secrets `cluster` names can be read (the peer secret file, the database
    /// password's file or variable), as the start would; throws what the start would throw.
    public static func checkClusterSecrets(_ cluster: ClusterConfiguration?) throws {
        if let cluster {
            _ = try ClusterSecrets.load(for: cluster)
        }
    }

    /// Whether `new` differs from `running` in more than what each request reads afresh.
    private static func serversDiffer(_ new: UpstreamConfiguration, _ running: UpstreamConfiguration) -> Bool {
        var comparable = new
        comparable.responseTimeoutSeconds = running.responseTimeoutSeconds
        return comparable != running
    }

    /// Puts the servers of `upstream` in place of the running ones, with their own pools,
    /// address refreshers and health checks, and the budgets `upstream` and `limits` derive.
    private func replaceUpstream(with upstream: UpstreamConfiguration, limits: LimitsConfiguration) async throws {
        let old = self.pools.servers
        let servers = try await UpstreamServer.makeAll(
            for: upstream, reusing: old, resolve: Self.resolve, metrics: self.metrics, logger: self.logger)
        let capacity = ConnectionCapacity(
            descriptorLimit: self.capacity.descriptorLimit, maxConnections: limits.maxConnections,
            upstreamMaxConnections: upstream.maxConnections)
        self.pools.replaceServers(with: servers, configuration: upstream, capacity: capacity)
        self.upstreamUpkeep.withLockedValue { running in
            // Cancelled before the new one starts: a server that stays keeps its
            // `UpstreamAddresses`, which take one refresher's wait at a time, and the old
            // refresher gives its wait up when cancelled.
            running.cancel()
            running = UpstreamUpkeep.start(
                servers: servers, configuration: upstream, pools: self.pools, resolve: Self.resolve,
                group: self.group, metrics: self.metrics, logger: self.logger)
        }
        let kept = Set(servers.map(\.name))
        for server in old where !kept.contains(server.name) {
            self.metrics.forgetUpstreamServer(server.name)
        }
        self.logger.notice(
            "upstream servers replaced",
            metadata: [
                "before": .array(old.map { .string($0.name) }), "after": .array(servers.map { .string($0.name) }),
            ])
    }
}
