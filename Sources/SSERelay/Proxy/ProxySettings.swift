import SSERelayCore

/// What a client connection's ``ProxyHandler`` needs from the configuration, captured when the
/// connection is accepted so a reload never changes a request in flight.
struct ProxySettings: Sendable {
    init(_ configuration: RelayConfiguration) {
        self.limits = configuration.limits
        self.upstream = configuration.upstream
        self.logHeaders = configuration.log.headers
        self.streams = configuration.streams
    }

    var limits: LimitsConfiguration
    var upstream: UpstreamConfiguration
    /// `log.headers`: log each request's and response's headers, redacted.
    var logHeaders: Bool
    /// `streams`: the routes whose GET requests are stream requests.
    var streams: [StreamRouteConfiguration]
}
