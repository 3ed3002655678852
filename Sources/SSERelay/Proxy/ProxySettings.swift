import SSERelayCore

/// What a client connection's ``ProxyHandler`` needs from the configuration, captured when the
/// connection is accepted so a reload never changes a request in flight.
struct ProxySettings: Sendable {
    init(_ configuration: RelayConfiguration) {
        self.limits = configuration.limits
        self.upstream = configuration.upstream
        self.logHeaders = configuration.log.headers
        self.queryRedaction = configuration.log.queryRedaction
        self.streams = configuration.streams
    }

    var limits: LimitsConfiguration
    var upstream: UpstreamConfiguration
    /// `log.headers`: log each request's and response's headers, redacted.
    var logHeaders: Bool
    /// `log.redactQueryParameters`: what of a request target logs and stream keys may show.
    var queryRedaction: QueryRedaction
    /// `streams`: the routes whose GET requests are stream requests.
    var streams: [StreamRouteConfiguration]
}
