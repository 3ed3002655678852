import Foundation
import FuzzSupport
import SSERelayCore

/// Writes a ``RelayConfiguration`` as the JSON file that would produce it, naming every key.
///
/// The relay has no writer of its own (it only reads files), so this one lives with the fuzz
/// target; it follows README's configuration table key by key.
///
/// Where one configuration has several spellings (one server as `upstream.url` or as
/// `upstream.servers`, a server of weight 1 as a string or an object, a URL on its scheme's
/// default port with or without `:80`/`:443`, no health check as `null` or as no key, the default
/// `upstream.tls` as no key or as an object with or without each default, and those of `cluster`
/// in `ConfigurationEncoder+Cluster.swift`), `choices` picks one, so that every spelling is read
/// back in turn: the same input always picks the same, and a mutated input may pick another.
enum ConfigurationEncoder {
    static func encode(_ configuration: RelayConfiguration, choosing choices: inout SplitMix64) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self.document(configuration, choosing: &choices))
    }

    static func document(_ configuration: RelayConfiguration, choosing choices: inout SplitMix64) -> JSONText {
        let limits = configuration.limits
        let log = configuration.log
        var fields: [String: JSONText] = [
            "listen": .string(configuration.listen.description),
            "upstream": self.upstream(configuration.upstream, choosing: &choices),
            "admin": .object([
                "listen": configuration.admin.listen.map { .string($0.description) } ?? .null,
                "token": configuration.admin.token.map { .string($0) } ?? .null,
            ]),
            "streams": .array(configuration.streams.map(self.route)),
            "limits": .object([
                "maxConnections": limits.maxConnections.map { .integer($0) } ?? .null,
                "maxHeaderBytes": .integer(limits.maxHeaderBytes),
                "maxHeaderCount": .integer(limits.maxHeaderCount),
                "maxRequestBodyBytes": .integer(limits.maxRequestBodyBytes),
                "maxGenerations": .integer(limits.maxGenerations),
                "maxClientsPerGeneration": .integer(limits.maxClientsPerGeneration),
                "clientQueueBytes": .integer(limits.clientQueueBytes),
                "replayMemoryBytes": .integer(limits.replayMemoryBytes),
                "maxLingeringGenerations": .integer(limits.maxLingeringGenerations),
                "maxLingeringPerClient": .integer(limits.maxLingeringPerClient),
                "streamStartsPerClientPerMinute": .integer(limits.streamStartsPerClientPerMinute),
                "streamStartBurstPerClient": .integer(limits.streamStartBurstPerClient),
                "clientAddressHeader": limits.clientAddressHeader.map { .string($0) } ?? .null,
                "requestBodyBufferBytes": .integer(limits.requestBodyBufferBytes),
                "requestBodyTimeoutSeconds": .number(limits.requestBodyTimeoutSeconds),
                "headerReadTimeoutSeconds": .number(limits.headerReadTimeoutSeconds),
                "idleTimeoutSeconds": .number(limits.idleTimeoutSeconds),
            ]),
            "shutdownGraceSeconds": .number(configuration.shutdownGraceSeconds),
            "log": .object([
                "level": .string(log.level.rawValue),
                "format": .string(log.format.rawValue),
                "headers": .bool(log.headers),
                "redactQueryParameters": self.strings(log.redactQueryParameters),
            ]),
        ]
        if let cluster = self.cluster(configuration.cluster, choosing: &choices) {
            fields["cluster"] = cluster
        }
        return .object(fields)
    }

    private static func upstream(_ upstream: UpstreamConfiguration, choosing choices: inout SplitMix64) -> JSONText {
        var fields: [String: JSONText] = [
            "connectTimeoutSeconds": .number(upstream.connectTimeoutSeconds),
            "responseTimeoutSeconds": .number(upstream.responseTimeoutSeconds),
            "maxConnections": upstream.maxConnections.map { .integer($0) } ?? .null,
            "idleTimeoutSeconds": .number(upstream.idleTimeoutSeconds),
            "resolveIntervalSeconds": .number(upstream.resolveIntervalSeconds),
            "health": self.health(upstream.health, choosing: &choices),
        ]
        if let tls = self.tls(upstream.tls, choosing: &choices) {
            fields["tls"] = tls
        }
        // `url` can say only one server of weight 1; `servers` can say anything.
        if upstream.servers.count == 1, upstream.servers.first?.weight == 1, Bool.random(using: &choices) {
            fields["url"] = self.url(upstream.url, choosing: &choices)
        } else {
            fields["servers"] = .array(upstream.servers.map { self.server($0, choosing: &choices) })
        }
        return .object(fields)
    }

    private static func server(_ server: UpstreamServerConfiguration, choosing choices: inout SplitMix64) -> JSONText {
        let url = self.url(server.url, choosing: &choices)
        switch (server.weight, Int.random(in: 0..<3, using: &choices)) {
        case (1, 0): return url
        case (1, 1): return .object(["url": url])
        default: return .object(["url": url, "weight": .integer(server.weight)])
        }
    }

    /// `http://HOST[:PORT]` or `https://HOST[:PORT]`: the port is left out when it is not the
    /// scheme's default (80 for `http`, 443 for `https`, as `description` writes it), or written
    /// out although it is.
    private static func url(_ url: UpstreamURL, choosing choices: inout SplitMix64) -> JSONText {
        let defaultPort = url.scheme == .https ? 443 : 80
        guard url.port == defaultPort, Bool.random(using: &choices) else { return .string(url.description) }
        return .string("\(url.scheme.rawValue)://\(url.address.description)")
    }

    /// `upstream.tls`, or `nil` for no key (only when it holds the defaults): `caFile` as a
    /// string, `null` or no key when there is none, `insecureSkipVerify` as `false` or no key
    /// when it is off.
    private static func tls(_ tls: UpstreamTLSConfiguration, choosing choices: inout SplitMix64) -> JSONText? {
        if tls == UpstreamTLSConfiguration(), Bool.random(using: &choices) { return nil }
        var fields: [String: JSONText] = [:]
        if let caFile = tls.caFile {
            fields["caFile"] = .string(caFile)
        } else if Bool.random(using: &choices) {
            fields["caFile"] = .null
        }
        if tls.insecureSkipVerify || Bool.random(using: &choices) {
            fields["insecureSkipVerify"] = .bool(tls.insecureSkipVerify)
        }
        return .object(fields)
    }

    private static func health(_ health: UpstreamHealthConfiguration, choosing choices: inout SplitMix64) -> JSONText {
        var fields: [String: JSONText] = [
            "maxFails": .integer(health.maxFails),
            "failTimeoutSeconds": .number(health.failTimeoutSeconds),
        ]
        if let check = health.check {
            fields["check"] = .object([
                "path": .string(check.path),
                "intervalSeconds": .number(check.intervalSeconds),
                "timeoutSeconds": .number(check.timeoutSeconds),
            ])
        } else if Bool.random(using: &choices) {
            fields["check"] = .null
        }
        return .object(fields)
    }

    private static func route(_ route: StreamRouteConfiguration) -> JSONText {
        .object([
            "path": .string(route.path.description),
            "varyHeaders": route.varyHeaders.map(self.strings) ?? .null,
            "ignoreHeaders": self.strings(route.ignoreHeaders),
            "privateResponseHeaders": self.strings(route.privateResponseHeaders),
            "keyIncludesQuery": .bool(route.keyIncludesQuery),
            "retryMs": route.retryMs.map { .integer($0) } ?? .null,
            "ids": .string(route.ids.rawValue),
            "joinFrom": .string(route.joinFrom.rawValue),
            "heartbeatSeconds": route.heartbeatSeconds.map { .number($0) } ?? .null,
            "upstreamLingerSeconds": route.upstreamLingerSeconds.map { .number($0) } ?? .null,
            "retainSeconds": .number(route.retainSeconds),
            "upstreamFailure": .string(route.upstreamFailure.rawValue),
            "afterFailure": .string(route.afterFailure.rawValue),
            "responseHeader": route.responseHeader.map { .string($0) } ?? .null,
            "replay": .object([
                "maxEvents": .integer(route.replay.maxEvents),
                "maxBytes": .integer(route.replay.maxBytes),
            ]),
        ])
    }

    private static func strings(_ values: [String]) -> JSONText {
        .array(values.map { .string($0) })
    }
}
