import NIOConcurrencyHelpers
public import SSERelayCore

extension ProxyServer {
    /// Applies what a reload can change to requests that start from now on: stream routes and
    /// their options, limits, `log.headers` and `log.redactQueryParameters`, the upstream's response timeout, and the shutdown
    /// grace period. Returns the changed keys that only a restart applies (listeners, the
    /// upstream's address and pool, the admin token, the log format); those keep their
    /// running values.
    public func reconfigure(_ new: RelayConfiguration) -> [String] {
        let running = self.configuration
        var needsRestart: [String] = []
        if new.listen != running.listen { needsRestart.append("listen") }
        if new.admin != running.admin { needsRestart.append("admin") }
        if new.upstream.url != running.upstream.url { needsRestart.append("upstream.url") }
        if new.upstream.maxConnections != running.upstream.maxConnections {
            needsRestart.append("upstream.maxConnections")
        }
        if new.upstream.connectTimeoutSeconds != running.upstream.connectTimeoutSeconds {
            needsRestart.append("upstream.connectTimeoutSeconds")
        }
        if new.upstream.resolveIntervalSeconds != running.upstream.resolveIntervalSeconds {
            needsRestart.append("upstream.resolveIntervalSeconds")
        }
        if new.upstream.idleTimeoutSeconds != running.upstream.idleTimeoutSeconds {
            needsRestart.append("upstream.idleTimeoutSeconds")
        }
        if new.log.format != running.log.format { needsRestart.append("log.format") }

        var applied = running
        applied.streams = new.streams
        applied.limits = new.limits
        applied.upstream.responseTimeoutSeconds = new.upstream.responseTimeoutSeconds
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
}
