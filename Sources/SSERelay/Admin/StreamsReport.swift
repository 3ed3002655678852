import NIOCore
import NIOHTTP1
import SSERelayCore

/// What `GET /streams` shows of every generation, encoded as JSON.
///
/// Built for people reading it with `curl | jq`: snake_case keys, durations in seconds, header
/// values of credentials redacted as in the logs (``HeaderRedaction``).
struct StreamsReport: Encodable, Sendable {
    /// The upstream's servers and where their health stands.
    var upstreamServers: [UpstreamServerReport]
    /// This relay in its cluster, when `cluster` is configured.
    var cluster: ClusterReport?
    var generations: [GenerationReport]

    enum CodingKeys: String, CodingKey {
        case generations, cluster
        case upstreamServers = "upstream_servers"
    }
}

/// This relay as the cluster's directory knows it.
struct ClusterReport: Encodable, Sendable {
    /// The relay's id in the directory, new in every process.
    var member: String
    /// The address other relays forward to.
    var peerAddress: String
    /// Whether the directory cannot be reached and the relay serves as a single node.
    var degraded: Bool
    /// Stream keys the relay holds a lease on.
    var leases: Int

    enum CodingKeys: String, CodingKey {
        case member, degraded, leases
        case peerAddress = "peer_address"
    }
}

/// One upstream server: its place in the rotation and the addresses its name stands for.
struct UpstreamServerReport: Encodable, Sendable {
    /// Its URL.
    var server: String
    var weight: Int
    /// `in` (taking traffic), `out` (taken out by failures of real traffic until the fail
    /// timeout), `on_trial` (the fail timeout passed: the next outcome decides), or
    /// `failing_check` (out until an active check passes).
    var state: String
    /// Failures in a row counted against it since its last success.
    var failures: Int
    var addresses: [String]
}

/// One generation: its key, where its upstream stands, its buffer and its clients.
struct GenerationReport: Encodable, Sendable {
    /// The token every relay id of the generation starts with; `/streams/{generation}`.
    var generation: String
    /// The stream key as logged: route, parameters, query and the digest of its headers.
    var key: String
    var route: String
    var parameters: [String: String]
    /// The key's query in canonical order, credential-like parameters redacted.
    var query: String
    /// The lowercased names of the request headers in the key (their values are only digested),
    /// so an operator can see which headers keep clients of one conversation apart.
    var keyHeaders: [String]
    /// `active`, `lingering` (no clients, upstream still open), `finished`, `failed`.
    var state: String
    var ageSeconds: Double
    /// Events read from the upstream so far.
    var events: Int
    /// Events still in the replay buffer, and their bytes.
    var retainedEvents: Int
    var bufferedBytes: Int
    /// The upstream's answer, once there is one.
    var upstream: UpstreamAnswerReport?
    /// The upstream server the generation was placed on (its URL), once it was.
    var upstreamServer: String?
    /// In a cluster: the relay the directory names as the key's holder (this one's peer
    /// address), or `null` while it does not (see ``lease``).
    var owner: String?
    /// In a cluster: `held` (the directory names this relay), `unconfirmed` (served while the
    /// directory could not be reached, claimed when it returns) or `lost` (another relay took
    /// the key while this one could not renew it; this generation runs to its end).
    var lease: String?
    var clients: [StreamClientReport]

    enum CodingKeys: String, CodingKey {
        case generation, key, route, parameters, query, state, events, upstream, clients, owner, lease
        case upstreamServer = "upstream_server"
        case ageSeconds = "age_seconds"
        case retainedEvents = "retained_events"
        case bufferedBytes = "buffered_bytes"
        case keyHeaders = "key_headers"
    }
}

/// The upstream's response to a generation's request.
struct UpstreamAnswerReport: Encodable, Sendable {
    /// The upstream's status; absent when it could not be reached.
    var status: Int?
    /// Response headers in order, as `Name: value` lines, credentials redacted.
    var headers: [String]
    /// Why the upstream gave no answer, when it did not.
    var error: String?
}

/// One connected client of a generation.
struct StreamClientReport: Encodable, Sendable {
    var remoteAddress: String?
    /// `started`, `joined` or `resumed`.
    var mode: String
    var connectedSeconds: Double
    /// Events written to this client.
    var deliveredEvents: Int
    /// Bytes written but not yet taken by the client's socket.
    var queuedBytes: Int
    /// Bytes between the client's position and the newest event.
    var lagBytes: Int?

    enum CodingKeys: String, CodingKey {
        case mode
        case remoteAddress = "remote_address"
        case connectedSeconds = "connected_seconds"
        case deliveredEvents = "delivered_events"
        case queuedBytes = "queued_bytes"
        case lagBytes = "lag_bytes"
    }
}

extension StreamsReport {
    /// The report of `servers` and `generations`, in their order, with `cluster`'s view of
    /// each generation's key when the relay is in one.
    init(servers: [UpstreamServer], generations: [GenerationInspection], cluster: ClusterNode? = nil) {
        self.init(
            upstreamServers: servers.map(UpstreamServerReport.init),
            cluster: cluster.map {
                ClusterReport(
                    member: $0.member.id, peerAddress: $0.member.peerAddress, degraded: $0.isDegraded,
                    leases: $0.heldKeyCount)
            },
            generations: generations.map { inspection in
                var report = GenerationReport(inspection)
                if let cluster, let lease = cluster.leaseStanding(of: inspection.key.directoryID) {
                    report.lease = lease
                    report.owner = lease == "held" ? cluster.member.peerAddress : nil
                }
                return report
            })
    }
}

extension UpstreamServerReport {
    init(_ server: UpstreamServer) {
        let now = NIODeadline.now()
        let (state, failures): (String, Int)
        switch server.healthState {
        case .inRotation(let count): (state, failures) = ("in", count)
        case .out(let until): (state, failures) = (now >= until ? "on_trial" : "out", 0)
        case .failingCheck: (state, failures) = ("failing_check", 0)
        }
        self.init(
            server: server.name, weight: server.weight, state: state, failures: failures,
            addresses: server.addresses.current.map(\.hostAndPort))
    }
}

extension GenerationReport {
    init(_ inspection: GenerationInspection) {
        let key = inspection.key
        self.init(
            generation: inspection.token,
            key: key.description,
            route: key.route,
            parameters: Dictionary(key.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }),
            query: key.shownQuery,
            keyHeaders: key.headerNames,
            state: inspection.state.rawValue,
            ageSeconds: inspection.age.seconds,
            events: inspection.events,
            retainedEvents: inspection.retainedEvents,
            bufferedBytes: inspection.bufferedBytes,
            upstream: inspection.answer.map(UpstreamAnswerReport.init(answer:)),
            upstreamServer: inspection.server,
            owner: nil,
            lease: nil,
            clients: inspection.clients.map(StreamClientReport.init)
        )
    }
}

extension UpstreamAnswerReport {
    init(answer: Generation.Answer) {
        func headers(_ head: HTTPResponseHead) -> [String] {
            HeaderRedaction.redacted(head.headers).map { "\($0.name): \($0.value)" }
        }
        switch answer {
        case .stream(let answerHead):
            self.init(status: Int(answerHead.upstream.status.code), headers: headers(answerHead.upstream), error: nil)
        case .rejected(let head, _):
            self.init(status: Int(head.status.code), headers: headers(head), error: nil)
        case .failed(let error):
            self.init(status: nil, headers: [], error: error.detail)
        }
    }
}

extension StreamClientReport {
    init(_ client: GenerationInspection.Client) {
        self.init(
            remoteAddress: client.remoteAddress,
            mode: client.mode.rawValue,
            connectedSeconds: client.connected.seconds,
            deliveredEvents: client.deliveredEvents,
            queuedBytes: client.queuedBytes,
            lagBytes: client.lagBytes
        )
    }
}

extension TimeAmount {
    /// The amount in seconds, as reports show durations.
    fileprivate var seconds: Double { Double(self.nanoseconds) / 1e9 }
}
