import FuzzSupport
import SSERelayCore

/// The bounds README's configuration table promises for every accepted file (invariant
/// `valid`), checked independently of the loader's own code.
enum ConfigurationValidity {
    static func check(_ configuration: RelayConfiguration) {
        self.check(configuration.listen, "listen")
        if let admin = configuration.admin.listen {
            self.check(admin, "admin.listen")
            Oracle.check(
                admin != configuration.listen || admin.port == 0, "valid", "admin.listen equals listen: \(admin)")
        }
        if let token = configuration.admin.token {
            Oracle.check(!token.isEmpty, "valid", "empty admin.token")
        }
        let upstream = configuration.upstream
        self.check(HostAndPort(host: upstream.url.host, port: upstream.url.port), "upstream.url")
        self.check(upstream.servers.count, in: 1...64, "upstream.servers count")
        Oracle.check(
            upstream.servers.first?.url == upstream.url, "valid",
            "upstream.url \(upstream.url) is not the first of upstream.servers")
        // One address is one server whatever the scheme: `http://a:443` and `https://a:443`
        // cannot both be listed.
        var serverAddresses: Set<HostAndPort> = []
        for server in upstream.servers {
            self.check(server.url.address, "upstream.servers[].url")
            self.check(server.url)
            self.check(server.weight, in: 1...100, "upstream.servers[].weight")
            Oracle.check(
                serverAddresses.insert(server.url.address).inserted, "valid",
                "upstream.servers lists \(server.url) twice")
        }
        self.check(upstream.health.maxFails, in: 1...1000, "upstream.health.maxFails")
        self.check(upstream.health.failTimeoutSeconds, in: 0.001...86400, "upstream.health.failTimeoutSeconds")
        if let check = upstream.health.check {
            Oracle.check(
                check.path.hasPrefix("/") && check.path.utf8.allSatisfy { (0x21...0x7E).contains($0) }, "valid",
                "upstream.health.check.path \(check.path)")
            self.check(check.intervalSeconds, in: 0.1...3600, "upstream.health.check.intervalSeconds")
            self.check(check.timeoutSeconds, in: 0.001...3600, "upstream.health.check.timeoutSeconds")
        }
        if let caFile = upstream.tls.caFile {
            Oracle.check(!caFile.isEmpty, "valid", "empty upstream.tls.caFile")
        }
        self.check(upstream.connectTimeoutSeconds, in: 0.001...3600, "upstream.connectTimeoutSeconds")
        self.check(upstream.responseTimeoutSeconds, in: 0.001...86400, "upstream.responseTimeoutSeconds")
        if let maxConnections = upstream.maxConnections {
            self.check(maxConnections, in: 1...1_000_000, "upstream.maxConnections")
        }
        self.check(upstream.idleTimeoutSeconds, in: 0.001...86400, "upstream.idleTimeoutSeconds")
        self.check(upstream.resolveIntervalSeconds, in: 1...86400, "upstream.resolveIntervalSeconds")

        var paths: Set<String> = []
        for route in configuration.streams {
            Oracle.check(
                paths.insert(route.path.description).inserted, "valid", "duplicate stream path \(route.path)")
            Oracle.check(route.path.description.hasPrefix("/"), "valid", "stream path \(route.path)")
            for name in (route.varyHeaders ?? []) + route.privateResponseHeaders {
                Oracle.check(
                    self.isToken(name) && name == name.lowercased(), "valid", "header name \(name)")
            }
            for pattern in route.ignoreHeaders {
                let name = pattern.hasSuffix("*") ? String(pattern.dropLast()) : pattern
                Oracle.check(
                    self.isToken(name) && name == name.lowercased(), "valid", "ignored header \(pattern)")
            }
            Oracle.check(
                route.varyHeaders == nil || route.ignoreHeaders.isEmpty, "valid",
                "ignoreHeaders beside a varyHeaders list")
            if let header = route.responseHeader {
                Oracle.check(self.isToken(header), "valid", "response header name \(header)")
            }
            if let retryMs = route.retryMs {
                self.check(retryMs, in: 0...86_400_000, "streams[].retryMs")
            }
            if let heartbeat = route.heartbeatSeconds {
                self.check(heartbeat, in: 0.01...86400, "streams[].heartbeatSeconds")
            }
            if let linger = route.upstreamLingerSeconds {
                self.check(linger, in: 0...86400, "streams[].upstreamLingerSeconds")
            }
            self.check(route.retainSeconds, in: 0...604_800, "streams[].retainSeconds")
            self.check(route.replay.maxEvents, in: 1...10_000_000, "streams[].replay.maxEvents")
            self.check(route.replay.maxBytes, in: 1024...(1 << 34), "streams[].replay.maxBytes")
        }

        let limits = configuration.limits
        if let maxConnections = limits.maxConnections {
            self.check(maxConnections, in: 1...10_000_000, "limits.maxConnections")
        }
        self.check(limits.maxHeaderBytes, in: 1024...1_048_576, "limits.maxHeaderBytes")
        self.check(limits.clientQueueBytes, in: 4096...(1 << 30), "limits.clientQueueBytes")
        self.check(limits.replayMemoryBytes, in: 0...(1 << 40), "limits.replayMemoryBytes")
        self.check(limits.maxLingeringGenerations, in: 0...10_000_000, "limits.maxLingeringGenerations")
        self.check(limits.maxLingeringPerClient, in: 0...10_000_000, "limits.maxLingeringPerClient")
        self.check(
            limits.streamStartsPerClientPerMinute, in: 0...100_000_000, "limits.streamStartsPerClientPerMinute")
        self.check(limits.streamStartBurstPerClient, in: 1...100_000_000, "limits.streamStartBurstPerClient")
        if let header = limits.clientAddressHeader {
            Oracle.check(self.isToken(header), "valid", "client address header \(header)")
        }
        self.check(limits.requestBodyBufferBytes, in: 0...(64 << 20), "limits.requestBodyBufferBytes")
        self.check(limits.requestBodyTimeoutSeconds, in: 0.001...86400, "limits.requestBodyTimeoutSeconds")
        self.check(limits.headerReadTimeoutSeconds, in: 0.001...3600, "limits.headerReadTimeoutSeconds")
        self.check(limits.idleTimeoutSeconds, in: 0.001...86400, "limits.idleTimeoutSeconds")
        self.check(configuration.shutdownGraceSeconds, in: 0...86400, "shutdownGraceSeconds")
        if let cluster = configuration.cluster {
            self.check(cluster, listen: configuration.listen, admin: configuration.admin.listen)
        }
    }

    static func check(_ address: HostAndPort, _ key: StaticString) {
        Oracle.check(
            !address.host.isEmpty && !address.host.contains(" ") && !address.host.contains("/")
                && (0...65535).contains(address.port),
            "valid", "\(key): \(address.host) port \(address.port)")
    }

    /// An `http://` or `https://` URL whose `Host` (what health checks and requests that came
    /// without one send) names the port unless it is the scheme's default: 80 for `http`, 443
    /// for `https`.
    private static func check(_ url: UpstreamURL) {
        let defaultPort: Int
        switch url.scheme {
        case .http: defaultPort = 80
        case .https: defaultPort = 443
        }
        let host = url.host.contains(":") ? "[\(url.host)]" : url.host
        let hostHeader = url.port == defaultPort ? host : "\(host):\(url.port)"
        Oracle.check(
            url.hostHeader == hostHeader && url.description == "\(url.scheme.rawValue)://\(hostHeader)", "valid",
            "upstream URL \(url) (scheme \(url.scheme.rawValue), port \(url.port)) has Host \(url.hostHeader)")
    }

    static func check<Value: Comparable>(_ value: Value, in range: ClosedRange<Value>, _ key: StaticString) {
        Oracle.check(range.contains(value), "valid", "\(key) = \(value) outside \(range)")
    }

    /// RFC 9110's `token`, written out again rather than taken from the relay.
    private static func isToken(_ text: String) -> Bool {
        let punctuation = Set("!#$%&'*+-.^_`|~".utf8)
        return !text.isEmpty
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || punctuation.contains(byte)
            }
    }
}
