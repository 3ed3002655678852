import Prometheus

/// The instruments of cluster mode, registered only when `cluster` is configured, so a single
/// node's `/metrics` shows none of them.
struct ClusterMetrics: Sendable {
    /// How a claim on a stream key ended, the `outcome` label of `cluster_claims_total`.
    enum ClaimOutcome: String, CaseIterable, Sendable {
        /// The key is this relay's: it starts (or joins) the generation.
        case won
        /// Another live relay holds the key: the request is forwarded to it.
        case lost
        /// The directory did not answer in time or failed: served as a single node would.
        case unavailable
        /// Not asked: the directory is known to be unreachable, or the relay is draining.
        case skipped
    }

    /// How a forwarded request ended on the relay that forwarded it, the `outcome` label of
    /// `cluster_forwards_total`.
    enum ForwardOutcome: String, CaseIterable, Sendable {
        /// The owner answered; its response went to the client.
        case relayed
        /// The owner could not be reached, or failed before it answered: the client was told to
        /// retry.
        case failed
    }

    /// What the peer listener did with a request, the `outcome` label of
    /// `cluster_peer_requests_total`.
    enum PeerRequestOutcome: String, CaseIterable, Sendable {
        /// The peer secret matched: served as a local join, resume or start.
        case accepted
        /// No secret, or a wrong one: `403`.
        case unauthorized
    }

    /// The directory statement a latency sample is of, the `statement` label of
    /// `cluster_directory_seconds`.
    enum Statement: String, CaseIterable, Sendable {
        case claim, renew, release
    }

    private let claims: [ClaimOutcome: Counter]
    private let forwards: [ForwardOutcome: Counter]
    private let peerRequests: [PeerRequestOutcome: Counter]
    private let latency: [Statement: DurationHistogram]
    private let statements: [Statement: Counter]
    private let leasesRenewed: Counter
    private let leasesLost: Counter
    private let leasesTakenOver: Counter
    private let leasesHeld: Gauge
    private let degraded: Gauge
    private let registry: PrometheusCollectorRegistry

    /// Buckets of the directory's round trips: a claim on a healthy local database takes a
    /// fraction of a millisecond, one across a region tens of milliseconds.
    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2),
    ]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "sse_relay", metricName: name, unitName: unit, helpText: help)
        }
        self.claims = RelayMetrics.counters(
            for: ClaimOutcome.self, label: "outcome", in: registry,
            named: descriptor(
                "cluster_claims", "total", "Claims of stream keys in the cluster's directory, by outcome."))
        self.forwards = RelayMetrics.counters(
            for: ForwardOutcome.self, label: "outcome", in: registry,
            named: descriptor(
                "cluster_forwards", "total", "Stream requests forwarded to the relay that owns their key."))
        self.peerRequests = RelayMetrics.counters(
            for: PeerRequestOutcome.self, label: "outcome", in: registry,
            named: descriptor(
                "cluster_peer_requests", "total", "Requests other relays forwarded to this one, by outcome."))
        self.statements = RelayMetrics.counters(
            for: Statement.self, label: "statement", in: registry,
            named: descriptor("cluster_directory_statements", "total", "Statements sent to the directory, by kind."))
        let latencyDescriptor = descriptor(
            "cluster_directory", "seconds", "Round trips to the directory, by statement, failures included.")
        self.latency = Dictionary(
            uniqueKeysWithValues: Statement.allCases.map {
                (
                    $0,
                    registry.makeDurationHistogram(
                        descriptor: latencyDescriptor, labels: [("statement", $0.rawValue)],
                        buckets: Self.latencyBuckets)
                )
            })
        self.leasesRenewed = registry.makeCounter(
            descriptor: descriptor("cluster_lease_renewals", "total", "Leases renewed, counted one per key."))
        self.leasesLost = registry.makeCounter(
            descriptor: descriptor(
                "cluster_leases_lost", "total",
                "Leases of this relay found expired and taken by another relay at renewal."))
        self.leasesTakenOver = registry.makeCounter(
            descriptor: descriptor(
                "cluster_leases_taken_over", "total", "Claims that won a key whose previous owner's lease had expired.")
        )
        self.leasesHeld = registry.makeGauge(
            descriptor: descriptor("cluster_leases", "", "Stream keys this relay holds a lease on."))
        self.degraded = registry.makeGauge(
            descriptor: descriptor(
                "cluster_degraded", "",
                "1 while the directory cannot be reached and the relay serves as a single node, else 0."))
    }

    /// The metrics of the connections to one peer, in the shape an ``UpstreamServer`` counts
    /// into: connections opened, by `peer` label. A peer's health is not tracked (a request goes
    /// to the key's owner or nowhere), so the failure counter and the rotation gauge go to a
    /// registry nobody renders.
    func peer(_ address: String) -> UpstreamServerMetrics {
        let unrendered = PrometheusCollectorRegistry()
        return UpstreamServerMetrics(
            requests: self.registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "sse_relay", metricName: "cluster_peer_connections", unitName: "total",
                    helpText: "Connections opened to another relay for forwarded requests, by peer."),
                labels: [("peer", address)]),
            failures: unrendered.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "peer", metricName: "failures", unitName: "total", helpText: "unrendered")),
            inRotation: unrendered.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "peer", metricName: "up", unitName: "", helpText: "unrendered")))
    }

    func record(_ outcome: ClaimOutcome) {
        self.claims[outcome]?.increment()
    }

    func record(_ outcome: ForwardOutcome) {
        self.forwards[outcome]?.increment()
    }

    func record(_ outcome: PeerRequestOutcome) {
        self.peerRequests[outcome]?.increment()
    }

    /// One statement sent and how long its round trip took, whether it succeeded or not.
    func record(_ statement: Statement, took duration: Duration) {
        self.statements[statement]?.increment()
        self.latency[statement]?.record(duration)
    }

    func leasesRenewed(_ count: Int) {
        self.leasesRenewed.increment(by: Int64(count))
    }

    func leasesLost(_ count: Int) {
        self.leasesLost.increment(by: Int64(count))
    }

    func leaseTakenOver() {
        self.leasesTakenOver.increment()
    }

    func setLeasesHeld(_ count: Int) {
        self.leasesHeld.set(Int64(count))
    }

    func setDegraded(_ isDegraded: Bool) {
        self.degraded.set(Int64(isDegraded ? 1 : 0))
    }
}
