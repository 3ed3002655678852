import NIOConcurrencyHelpers
public import Prometheus

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every figure the relay exposes on the admin listener's `/metrics` (the table in README,
/// "Metrics"), kept in one Prometheus registry per relay.
///
/// The instruments are made on swift-prometheus's ``PrometheusCollectorRegistry`` directly,
/// so each carries its `# HELP` line; the command line also bootstraps swift-metrics with a
/// factory over the same ``registry``, so metrics of any library that reports through
/// swift-metrics land on the same page. One registry per relay rather than the global one keeps
/// relays in one process (the tests) apart.
///
/// Hot-path cost: counters are atomics; a client's deliveries are counted once per write pass
/// rather than once per event, and the delivery latency is sampled once per pass (see
/// ``recordDelivery(events:replayed:latency:)``).
public final class RelayMetrics: Sendable {
    /// How a stream request was answered: a partition of every stream request.
    public enum StreamOutcome: String, CaseIterable, Sendable {
        /// Started a new generation (a new upstream request).
        case started
        /// Joined an open generation.
        case joined
        /// Resumed after its `Last-Event-ID` from the replay buffer.
        case resumed
        /// `204`: the generation ended and the client has every event.
        case noContent = "no_content"
        /// Its `Last-Event-ID` matched nothing retained: it started or joined from the start.
        case replayMiss = "replay_miss"
        /// The upstream answered something other than an event stream, or could not be reached.
        case rejected
        /// The client left before the upstream answered.
        case abandoned
        /// Refused at `limits.maxGenerations` or `limits.maxClientsPerGeneration`.
        case overLimit = "over_limit"
        /// Refused `429`: its client address started new generations faster than
        /// `limits.streamStartsPerClientPerMinute`.
        case rateLimited = "rate_limited"
        /// Forwarded to the relay of the cluster that holds its key, which counts it again by
        /// how it served it.
        case forwarded
    }

    /// A configured bound, the `limit` label of `limit_hits_total`.
    public enum Limit: String, CaseIterable, Sendable {
        case maxConnections = "limits.maxConnections"
        case maxHeaderBytes = "limits.maxHeaderBytes"
        case maxRequestBodyBytes = "limits.maxRequestBodyBytes"
        case maxGenerations = "limits.maxGenerations"
        case maxClientsPerGeneration = "limits.maxClientsPerGeneration"
        case clientQueueBytes = "limits.clientQueueBytes"
        case replayMemoryBytes = "limits.replayMemoryBytes"
        case maxLingeringGenerations = "limits.maxLingeringGenerations"
        case maxLingeringPerClient = "limits.maxLingeringPerClient"
        case streamStartsPerClientPerMinute = "limits.streamStartsPerClientPerMinute"
        case requestBodyTimeoutSeconds = "limits.requestBodyTimeoutSeconds"
    }

    /// What kind of request a completed exchange was, the `kind` label of `requests_total`.
    public enum RequestKind: String, Sendable {
        case passthrough, stream, upgrade
        /// Refused before it could be routed: malformed, oversized or too slow.
        case invalid
    }

    /// How a resolution of the upstream's host name went, the `outcome` label of
    /// `upstream_resolutions_total`.
    public enum ResolutionOutcome: String, CaseIterable, Sendable {
        /// It resolved to the addresses already in use.
        case unchanged
        /// It resolved to other addresses, which new connections use from now on.
        case changed
        /// It did not resolve; the known addresses stay in use.
        case failed
    }

    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry

    private let upstreamStreamsStarted: Counter
    private let generationsAbandoned: Counter
    private let eventsReceived: Counter
    private let eventsDelivered: Counter
    private let eventsReplayed: Counter
    private let idsInjected: Counter
    private let slowClientsDropped: Counter
    private let connectionsRefused: Counter
    private let streamClients: Gauge
    private let activeGenerations: Gauge
    private let retainedGenerations: Gauge
    private let replayBufferBytes: Gauge
    private let clientConnections: Gauge
    private let deliveryLatency: DurationHistogram
    private let residentMemory: Gauge
    private let openFileDescriptors: Gauge
    private let cpuSeconds: Gauge
    private let startTime: Gauge
    private let streamOutcomes: [StreamOutcome: Counter]
    private let limitHits: [Limit: Counter]
    private let resolutions: [ResolutionOutcome: Counter]
    /// `requests_total` and `upstream_errors_total` by label values, made on first use.
    private let labelledCounters = NIOLockedValueBox([LabelledCounterKey: Counter]())
    /// The per-server gauges, by label values, made on first use.
    private let labelledGauges = NIOLockedValueBox([LabelledCounterKey: Gauge]())
    /// The `requests_total` counters by kind and status, found without building label strings:
    /// every request counts once, so this lookup is on the pass-through hot path.
    private let requestCounters = NIOLockedValueBox([RequestCounterKey: Counter]())

    private struct RequestCounterKey: Hashable {
        var kind: RequestKind
        var status: UInt
    }

    private struct LabelledCounterKey: Hashable {
        var name: String
        var labels: [String]
    }

    /// Buckets of the delivery-latency histogram: fan-out is sub-millisecond when healthy, so
    /// the low end is fine-grained; the top catches clients stalled behind a full socket.
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "sse_relay", metricName: name, unitName: "total", helpText: help))
        }
        func gauge(_ name: String, _ unit: String, _ help: String, namespace: String = "sse_relay") -> Gauge {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: namespace, metricName: name, unitName: unit, helpText: help))
        }
        self.upstreamStreamsStarted = counter(
            "upstream_streams_started", "Upstream stream requests started, one per generation.")
        self.generationsAbandoned = counter(
            "generations_abandoned",
            "Generations whose upstream was cancelled at once because every client left before any event reached one.")
        self.eventsReceived = counter("events_received", "SSE events read from upstream streams.")
        self.eventsDelivered = counter(
            "events_delivered", "SSE events written to stream clients, replayed ones included.")
        self.eventsReplayed = counter(
            "events_replayed", "SSE events written to joining or resuming clients from the replay buffer.")
        self.idsInjected = counter("ids_injected", "SSE events given a relay id.")
        self.slowClientsDropped = counter(
            "slow_clients_dropped",
            "Stream clients disconnected for lagging beyond limits.clientQueueBytes or behind their replay buffer.")
        self.connectionsRefused = counter(
            "connections_refused", "Client connections answered 503 over limits.maxConnections.")
        self.streamClients = gauge("stream_clients", "", "Connected stream clients.")
        self.activeGenerations = gauge("active_generations", "", "Generations whose upstream stream is open.")
        self.retainedGenerations = gauge(
            "retained_generations", "", "Generations held for resumption, open or ended.")
        self.replayBufferBytes = gauge(
            "replay_buffer", "bytes",
            "Memory held by all replay buffers (events, ids and their overhead, estimated), bounded by limits.replayMemoryBytes."
        )
        self.clientConnections = gauge("client_connections", "", "Open client connections on the proxy listener.")
        self.deliveryLatency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "sse_relay", metricName: "event_delivery", unitName: "seconds",
                helpText:
                    "From the upstream read of an event to its write to a live client, sampled once per write pass."),
            buckets: Self.latencyBuckets
        )
        self.residentMemory = gauge(
            "resident_memory", "bytes", "Resident memory size in bytes.", namespace: "process")
        self.openFileDescriptors = gauge("open_fds", "", "Number of open file descriptors.", namespace: "process")
        self.cpuSeconds = gauge(
            "cpu_seconds", "total", "Total user and system CPU time spent in seconds.", namespace: "process")
        self.startTime = gauge(
            "start_time", "seconds", "Start time of the process since unix epoch in seconds.", namespace: "process")
        self.streamOutcomes = Self.counters(
            for: StreamOutcome.self, label: "outcome", in: registry,
            named: MetricNameDescriptor(
                namespace: "sse_relay", metricName: "stream_requests", unitName: "total",
                helpText: "Stream requests by how they were answered."))
        self.limitHits = Self.counters(
            for: Limit.self, label: "limit", in: registry,
            named: MetricNameDescriptor(
                namespace: "sse_relay", metricName: "limit_hits", unitName: "total",
                helpText: "Times a configured limit refused, dropped or evicted something, by limit."))
        self.resolutions = Self.counters(
            for: ResolutionOutcome.self, label: "outcome", in: registry,
            named: MetricNameDescriptor(
                namespace: "sse_relay", metricName: "upstream_resolutions", unitName: "total",
                helpText: "Resolutions of the upstream's host name, by outcome."))
        // The relay's start, which for the daemon is the process's to within milliseconds.
        self.startTime.set(Self.wallClockSeconds())
    }

    /// One counter of the family `descriptor` for every value of `Value`, labelled `label`.
    static func counters<Value: CaseIterable & Hashable & RawRepresentable<String>>(
        for _: Value.Type, label: String, in registry: PrometheusCollectorRegistry,
        named descriptor: MetricNameDescriptor
    ) -> [Value: Counter] {
        var counters: [Value: Counter] = [:]
        for value in Value.allCases {
            counters[value] = registry.makeCounter(descriptor: descriptor, labels: [(label, value.rawValue)])
        }
        return counters
    }

    private static func wallClockSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    // MARK: Recording

    func upstreamStreamStarted() {
        self.upstreamStreamsStarted.increment()
    }

    /// Counts a generation cancelled because nobody stayed for any of its events.
    func generationAbandoned() {
        self.generationsAbandoned.increment()
    }

    /// Counts an event read from an upstream, and the relay id it was given, if any.
    func eventReceived(idInjected: Bool) {
        self.eventsReceived.increment()
        if idInjected {
            self.idsInjected.increment()
        }
    }

    /// Counts a stream client dropped for lagging; `overQueueLimit` when the lag passed
    /// `limits.clientQueueBytes` (a limit hit), not when the replay buffer evicted its position.
    func slowClientDropped(overQueueLimit: Bool) {
        self.slowClientsDropped.increment()
        if overQueueLimit {
            self.limitReached(.clientQueueBytes)
        }
    }

    /// Counts a hit of `limit`.
    func limitReached(_ limit: Limit) {
        self.limitHits[limit]?.increment()
    }

    func connectionRefused() {
        self.connectionsRefused.increment()
        self.limitReached(.maxConnections)
    }

    func streamClientConnected() {
        self.streamClients.increment()
    }

    func streamClientDisconnected() {
        self.streamClients.decrement()
    }

    /// Counts a stream request's answer.
    func record(_ outcome: StreamOutcome) {
        self.streamOutcomes[outcome]?.increment()
    }

    /// Counts a completed request.
    func recordRequest(kind: RequestKind, status: UInt) {
        let key = RequestCounterKey(kind: kind, status: status)
        let counter =
            self.requestCounters.withLockedValue { $0[key] }
            ?? {
                let counter = self.labelledCounter(
                    Self.requestsName, labels: [("kind", kind.rawValue), ("status", String(status))])
                self.requestCounters.withLockedValue { $0[key] = counter }
                return counter
            }()
        counter.increment()
    }

    /// Counts a resolution of `server`'s host name; `addresses` are the ones in use after it.
    func recordUpstreamResolution(_ outcome: ResolutionOutcome, server: String, addresses: Int) {
        self.resolutions[outcome]?.increment()
        self.setUpstreamAddresses(addresses, server: server)
    }

    /// Sets the number of addresses `server`'s host name stands for.
    func setUpstreamAddresses(_ count: Int, server: String) {
        self.labelledGauge(Self.upstreamAddressesName, labels: [("server", server)]).set(Int64(count))
    }

    /// The metrics of one upstream server, made once when the server is set up.
    func upstreamServer(_ server: String) -> UpstreamServerMetrics {
        let labels = [("server", server)]
        return UpstreamServerMetrics(
            requests: self.labelledCounter(Self.upstreamServerRequestsName, labels: labels),
            failures: self.labelledCounter(Self.upstreamServerFailuresName, labels: labels),
            inRotation: self.labelledGauge(Self.upstreamServerUpName, labels: labels))
    }

    /// Removes the metrics of `server`, which a reload took out of `upstream.servers`.
    func forgetUpstreamServer(_ server: String) {
        let labels = [server]
        let counters = self.labelledCounters.withLockedValue { counters in
            [Self.upstreamServerRequestsName, Self.upstreamServerFailuresName].compactMap {
                counters.removeValue(forKey: LabelledCounterKey(name: $0.name, labels: labels))
            }
        }
        let gauges = self.labelledGauges.withLockedValue { gauges in
            [Self.upstreamServerUpName, Self.upstreamAddressesName].compactMap {
                gauges.removeValue(forKey: LabelledCounterKey(name: $0.name, labels: labels))
            }
        }
        for counter in counters { self.registry.unregisterCounter(counter) }
        for gauge in gauges { self.registry.unregisterGauge(gauge) }
    }

    private static var upstreamAddressesName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sse_relay", metricName: "upstream_addresses", unitName: "",
            helpText:
                "Addresses an upstream server's host name stands for now, by server; new connections take them in turn."
        )
    }

    private static var upstreamServerRequestsName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sse_relay", metricName: "upstream_server_requests", unitName: "total",
            helpText: "Upstream connections asked for, pass-through requests and streams, by server.")
    }

    private static var upstreamServerFailuresName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sse_relay", metricName: "upstream_server_failures", unitName: "total",
            helpText: "Failures counted against an upstream server's health (connect, reset, timeout, 5xx), by server.")
    }

    private static var upstreamServerUpName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sse_relay", metricName: "upstream_server_up", unitName: "",
            helpText: "1 while an upstream server is in the rotation, 0 while its health took it out, by server.")
    }

    /// Counts a failed upstream request by ``UpstreamError/reason``.
    func recordUpstreamError(reason: String) {
        self.labelledCounter(Self.upstreamErrorsName, labels: [("reason", reason)]).increment()
    }

    /// Counts one write pass of a stream client: `events` written, of which `replayed` came
    /// from the buffer, and the latency of the newest live event written, if any.
    ///
    /// One histogram sample per pass rather than per event: a pass writes every event that
    /// was due, so this samples each client at each wake-up, and costs one lock per pass.
    func recordDelivery(events: Int, replayed: Int, latency: Duration?) {
        if events > 0 {
            self.eventsDelivered.increment(by: Int64(events))
        }
        if replayed > 0 {
            self.eventsReplayed.increment(by: Int64(replayed))
        }
        if let latency {
            self.deliveryLatency.record(latency)
        }
    }

    /// Counts a failed accept on `listener` (`proxy`, `admin`) by `reason` (`emfile`, `enfile`,
    /// `enobufs`, `enomem`). Rare by construction (each one pauses the listener), so the labelled
    /// lookup's lock costs nothing that matters.
    func recordAcceptError(listener: String, reason: String) {
        self.labelledCounter(Self.acceptErrorsName, labels: [("listener", listener), ("reason", reason)])
            .increment()
    }

    private static var acceptErrorsName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sse_relay", metricName: "accept_errors", unitName: "total",
            helpText: "Failed accepts that paused a listener (out of descriptors or memory), by listener and reason.")
    }

    private static var requestsName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sse_relay", metricName: "requests", unitName: "total",
            helpText: "Completed requests by kind and response status.")
    }

    /// Counts a stream request that started its own generation although one of the same
    /// route, parameters and query was held, kept apart only by the value of `header`.
    func collapsePrevented(header: String) {
        self.labelledCounter(Self.collapsePreventedName, labels: [("header", header)]).increment()
    }

    private static var collapsePreventedName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sse_relay", metricName: "collapse_prevented", unitName: "total",
            helpText:
                "Stream requests that started their own upstream because a request header differed from a held stream of the same route, parameters and query, by header."
        )
    }

    private static var upstreamErrorsName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sse_relay", metricName: "upstream_errors", unitName: "total",
            helpText: "Upstream requests that failed, by reason.")
    }

    // MARK: Scraping

    /// The figures that are read rather than counted, taken at scrape time.
    struct Readings {
        var activeGenerations: Int
        var retainedGenerations: Int
        var replayBufferBytes: Int
        var clientConnections: Int
        var process: ProcessFigures
    }

    /// The Prometheus text exposition of every metric, with `readings` brought up to date first.
    func exposition(with readings: Readings) -> [UInt8] {
        self.activeGenerations.set(Int64(readings.activeGenerations))
        self.retainedGenerations.set(Int64(readings.retainedGenerations))
        self.replayBufferBytes.set(Int64(readings.replayBufferBytes))
        self.clientConnections.set(Int64(readings.clientConnections))
        if let resident = readings.process.residentMemoryBytes {
            self.residentMemory.set(Int64(resident))
        }
        if let descriptors = readings.process.openFileDescriptors {
            self.openFileDescriptors.set(Int64(descriptors))
        }
        if let seconds = readings.process.cpuSeconds {
            self.cpuSeconds.set(seconds)
        }
        return self.registry.emitToBuffer()
    }

    private func labelledGauge(_ descriptor: MetricNameDescriptor, labels: [(String, String)]) -> Gauge {
        Self.labelled(descriptor, labels, in: self.labelledGauges) {
            self.registry.makeGauge(descriptor: descriptor, labels: labels)
        }
    }

    private func labelledCounter(_ descriptor: MetricNameDescriptor, labels: [(String, String)]) -> Counter {
        Self.labelled(descriptor, labels, in: self.labelledCounters) {
            self.registry.makeCounter(descriptor: descriptor, labels: labels)
        }
    }

    /// The instrument of `descriptor` with `labels` from `cache`, made by `make` on first use.
    private static func labelled<Instrument>(
        _ descriptor: MetricNameDescriptor, _ labels: [(String, String)],
        in cache: NIOLockedValueBox<[LabelledCounterKey: Instrument]>, make: () -> Instrument
    ) -> Instrument {
        let key = LabelledCounterKey(name: descriptor.name, labels: labels.map { $0.1 })
        return cache.withLockedValue { instruments in
            if let instrument = instruments[key] {
                return instrument
            }
            let instrument = make()
            instruments[key] = instrument
            return instrument
        }
    }
}
