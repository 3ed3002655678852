import Prometheus

/// The metrics of one upstream server (`server` label: its URL), held by the server so that
/// counting a request finds them without a lookup.
struct UpstreamServerMetrics: Sendable {
    /// `sse_relay_upstream_server_requests_total`.
    let requests: Counter
    /// `sse_relay_upstream_server_failures_total`.
    let failures: Counter
    /// `sse_relay_upstream_server_up`.
    let inRotation: Gauge

    /// Counts an upstream connection asked of the server.
    func countRequest() {
        self.requests.increment()
    }

    /// Counts a failure against the server's health.
    func countFailure() {
        self.failures.increment()
    }

    /// Sets whether the server is in the rotation.
    func setInRotation(_ isIn: Bool) {
        self.inRotation.set(Int64(isIn ? 1 : 0))
    }
}
