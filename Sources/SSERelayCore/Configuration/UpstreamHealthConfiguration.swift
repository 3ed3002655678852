/// `upstream.health`: when a server of `upstream.servers` is taken out of the rotation and when
/// it is put back.
///
/// Passive health is always on: failures of real traffic (a connect that fails, a connection
/// reset or closed before the response, a response timeout, a `5xx` answer to an idempotent
/// request) count against a server, and ``maxFails`` of them in a row take it out for
/// ``failTimeoutSeconds``. Then the server is on trial: it takes traffic again, and the first
/// outcome decides: a success puts it back in, a failure takes it out again at once. The
/// active ``check`` is optional.
///
/// With a single server none of this applies: there is nowhere else to send a request.
public struct UpstreamHealthConfiguration: Sendable, Hashable {
    /// `upstream.health.maxFails` (integer 1–1000, default 3): failures in a row that take a
    /// server out.
    public var maxFails = 3
    /// `upstream.health.failTimeoutSeconds` (number 0.001–86400, default 10): how long a server
    /// taken out by failures stays out before a trial request.
    public var failTimeoutSeconds: Double = 10
    /// `upstream.health.check` (object or `null`, default `null`): an active check.
    public var check: UpstreamHealthCheckConfiguration?

    public init() {}
}

/// `upstream.health.check`: a `GET` the relay sends each server at an interval, on a
/// connection of its own. A `2xx` or `3xx` answer within the timeout passes; anything else
/// (a failed connect, a timeout, another status) fails and takes the server out until a check
/// passes again.
public struct UpstreamHealthCheckConfiguration: Sendable, Hashable {
    /// `upstream.health.check.path` (string, required): the request target, such as `/healthz`.
    public var path: String
    /// `upstream.health.check.intervalSeconds` (number 0.1–3600, default 5): the time between
    /// the start of two checks of one server.
    public var intervalSeconds: Double = 5
    /// `upstream.health.check.timeoutSeconds` (number 0.001–3600, default 2): how long a check
    /// may take, connect included.
    public var timeoutSeconds: Double = 2

    public init(path: String) {
        self.path = path
    }

    /// Checks that `path` is an origin-form request target: `/`, then visible ASCII.
    static func validatePath(_ path: String) throws(ConfigurationValueError) -> String {
        guard path.hasPrefix("/"), path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ConfigurationValueError("expected a path starting with / and no spaces or control characters")
        }
        return path
    }
}

extension UpstreamHealthConfiguration {
    /// Reads `upstream.health`.
    init(reading reader: inout ConfigurationObjectReader) {
        self.init()
        self.maxFails = reader.integer("maxFails", default: 3, in: 1...1000)
        self.failTimeoutSeconds = reader.seconds("failTimeoutSeconds", default: 10, in: 0.001...86400)
        switch reader.value("check") {
        case nil, .null?:
            self.check = nil
        default:
            self.check = reader.object("check", default: nil) { UpstreamHealthCheckConfiguration(reading: &$0) }
        }
    }
}

extension UpstreamHealthCheckConfiguration {
    /// Reads `upstream.health.check`; `nil` when its path is missing or bad (reported).
    init?(reading reader: inout ConfigurationObjectReader) {
        let hadPath = reader.value("path") != nil
        let path = reader.parsed("path", default: String?.none) { text throws(ConfigurationValueError) in
            try Self.validatePath(text)
        }
        let interval = reader.seconds("intervalSeconds", default: 5, in: 0.1...3600)
        let timeout = reader.seconds("timeoutSeconds", default: 2, in: 0.001...3600)
        guard let path else {
            if !hadPath { reader.report("path", "required: the path to GET, such as /healthz") }
            return nil
        }
        self.init(path: path)
        self.intervalSeconds = interval
        self.timeoutSeconds = timeout
    }
}
