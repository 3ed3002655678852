/// The admin listener's resources (README, "Admin listener"), parsed from a request target.
enum AdminEndpoint: Equatable {
    case metrics
    case streams
    case stream(generation: String)
    case health
    case readiness

    /// The endpoint of `target` (its path; a query is ignored), or `nil` for anything else.
    init?(target: String) {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        switch path {
        case "/metrics": self = .metrics
        case "/streams", "/streams/": self = .streams
        case "/healthz": self = .health
        case "/readyz": self = .readiness
        default:
            let prefix = "/streams/"
            guard path.hasPrefix(prefix) else { return nil }
            let generation = path.dropFirst(prefix.count)
            guard !generation.isEmpty, !generation.contains("/") else { return nil }
            self = .stream(generation: String(generation))
        }
    }
}
