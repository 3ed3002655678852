/// One entry of `streams`: a route whose GET requests are SSE stream requests.
public struct StreamRouteConfiguration: Sendable, Hashable {
    /// Which events get a relay id.
    public enum IDMode: String, Sendable, Hashable, CaseIterable {
        /// Keep a non-empty upstream id, give every other event a relay id.
        case auto
        /// Give every event a relay id.
        case relay
    }

    /// Where a client that joins a running generation starts.
    public enum JoinPosition: String, Sendable, Hashable, CaseIterable {
        /// Every buffered event of the generation, then live ones.
        case start
        /// Only events that arrive after the client joined.
        case live
    }

    /// How waiting clients learn that the upstream could not be reached.
    public enum UpstreamFailureMode: String, Sendable, Hashable, CaseIterable {
        /// `200 text/event-stream` with `retry:` and a comment, so `EventSource` retries.
        case retry
        /// `502` / `504` with a plain-text body, which `EventSource` treats as final.
        case status
    }

    /// What a client that was in a generation that failed gets when it reconnects.
    public enum FailureRecovery: String, Sendable, Hashable, CaseIterable {
        /// The events it missed, the failure event, then `204`: the relay never restarts a
        /// completion on its own, and the page decides what to do (it saw the failure event).
        case stop
        /// A new generation (or the open one): the completion runs again.
        case restart
    }

    /// `streams[].replay`: bounds of one generation's replay buffer.
    public struct Replay: Sendable, Hashable {
        /// `replay.maxEvents` (integer, default 10000).
        public var maxEvents = 10_000
        /// `replay.maxBytes` (integer, default 4194304).
        public var maxBytes = 4_194_304

        public init() {}
    }

    /// `path` (string, default `/api/conversation/:conversationId/stream`).
    public var path: RoutePattern
    /// `varyHeaders` (array of header names or null, default null): with `null`, every request
    /// header is part of the stream key except those of ``StreamIdentityHeaders`` and
    /// ``ignoreHeaders``, so a credential in any header keeps users apart; a list narrows the key
    /// to exactly the headers listed, for an operator who knows where identity travels and wants
    /// wider sharing.
    public var varyHeaders: [String]? = nil
    /// `ignoreHeaders` (array of header names or `prefix*`, default `[]`): more headers kept out
    /// of the key under the default rule, such as the operator's own tracing header, which
    /// would otherwise make every request's key unique. Only with `varyHeaders: null`.
    public var ignoreHeaders: [String] = []
    /// `privateResponseHeaders` (array of header names, default `["set-cookie", "set-cookie2"]`):
    /// upstream response headers only the client whose request started the generation
    /// receives; clients that join or resume never do, since they belong to the starter's
    /// session even when the keys are equal (a `varyHeaders` list without `cookie`, say).
    public var privateResponseHeaders = ["set-cookie", "set-cookie2"]
    /// `keyIncludesQuery` (boolean, default true): whether the query string is part of the key.
    public var keyIncludesQuery = true
    /// `retryMs` (integer or null, default 2000): the `retry:` sent first on every stream
    /// response; `null` sends none and lets the upstream's own pass.
    public var retryMs: Int? = 2000
    /// `ids` (`auto` or `relay`, default `auto`).
    public var ids: IDMode = .auto
    /// `joinFrom` (`start` or `live`, default `start`).
    public var joinFrom: JoinPosition = .start
    /// `heartbeatSeconds` (number or null, default 15): a `:` comment to a client sent nothing
    /// for this long; `null` turns heartbeats off.
    public var heartbeatSeconds: Double? = 15
    /// `upstreamLingerSeconds` (number or null, default 300): how long the upstream runs on with
    /// no client; `null` runs it to completion.
    public var upstreamLingerSeconds: Double? = 300
    /// `retainSeconds` (number, default 300): how long an ended generation stays resumable.
    public var retainSeconds: Double = 300
    /// `upstreamFailure` (`retry` or `status`, default `retry`).
    public var upstreamFailure: UpstreamFailureMode = .retry
    /// `afterFailure` (`stop` or `restart`, default `stop`): what a client of a generation that
    /// ended abnormally gets when it reconnects (see ``FailureRecovery``).
    public var afterFailure: FailureRecovery = .stop
    /// `responseHeader` (string or null, default `X-SSE-Relay`): the header that tells a client
    /// whether its stream was `started`, `joined` or `resumed`; `null` leaves it out.
    public var responseHeader: String? = "X-SSE-Relay"
    /// `replay`: bounds of the replay buffer.
    public var replay = Replay()

    public init(path: RoutePattern) {
        self.path = path
    }

    /// Which request headers make this route's stream key, in words, as `check-config` prints
    /// it: the explicit list, or everything except the ignored names and prefixes.
    public var keyRuleDescription: String {
        if let varyHeaders {
            let names = Set(varyHeaders).sorted()
            return names.isEmpty
                ? "no request header (varyHeaders is empty): every client of a stream shares it"
                : "only \(names.joined(separator: ", ")) (varyHeaders)"
        }
        let ignored = (StreamIdentityHeaders.excludedByDefault + self.ignoreHeaders.sorted()).joined(separator: ", ")
        return "every request header except \(ignored)"
    }

    /// The embedded default route.
    public static var defaultRoute: StreamRouteConfiguration {
        StreamRouteConfiguration(path: .conversationStream)
    }
}

extension StreamRouteConfiguration {
    init?(reading value: JSONValue, at path: ConfigurationKeyPath, problems: ConfigurationProblems) {
        guard var reader = ConfigurationObjectReader(value, at: path, problems: problems) else { return nil }
        let defaults = StreamRouteConfiguration.defaultRoute
        self = defaults
        self.path = reader.parsed("path", default: defaults.path) { text throws(ConfigurationValueError) in
            // Routing says what is wrong with the pattern; the reader adds the key path and the value.
            do throws(RoutePatternError) {
                return try RoutePattern(parsing: text)
            } catch {
                throw ConfigurationValueError(error.message)
            }
        }
        self.varyHeaders = reader.optionalArray("varyHeaders", default: defaults.varyHeaders, Self.headerName)
        self.ignoreHeaders = reader.array("ignoreHeaders", default: defaults.ignoreHeaders) { value, path, problems in
            // `prefix*`: a header name with a `*` at the end; a lone `*` would leave no header
            // in the key, which is `varyHeaders: []`, said explicitly.
            guard case .string(let pattern) = value,
                HTTPToken.isValid(pattern.hasSuffix("*") ? String(pattern.dropLast()) : pattern)
            else {
                problems.report(path, "expected a header name or a prefix such as x-trace-*, got \(value.summary)")
                return nil
            }
            return pattern.lowercased()
        }
        if self.varyHeaders != nil, !self.ignoreHeaders.isEmpty {
            reader.report(
                "ignoreHeaders",
                "has no effect with a varyHeaders list, which names every header of the key; drop one of the two")
        }
        self.privateResponseHeaders = reader.array(
            "privateResponseHeaders", default: defaults.privateResponseHeaders, Self.headerName)
        self.keyIncludesQuery = reader.bool("keyIncludesQuery", default: defaults.keyIncludesQuery)
        self.retryMs = reader.optionalInteger("retryMs", default: defaults.retryMs, in: 0...86_400_000)
        self.ids = reader.choice("ids", default: defaults.ids)
        self.joinFrom = reader.choice("joinFrom", default: defaults.joinFrom)
        self.heartbeatSeconds = reader.optionalSeconds(
            "heartbeatSeconds", default: defaults.heartbeatSeconds, in: 0.01...86400)
        self.upstreamLingerSeconds = reader.optionalSeconds(
            "upstreamLingerSeconds", default: defaults.upstreamLingerSeconds, in: 0...86400)
        self.retainSeconds = reader.seconds("retainSeconds", default: defaults.retainSeconds, in: 0...604_800)
        self.upstreamFailure = reader.choice("upstreamFailure", default: defaults.upstreamFailure)
        self.afterFailure = reader.choice("afterFailure", default: defaults.afterFailure)
        self.responseHeader = reader.optionalString("responseHeader", default: defaults.responseHeader)
        if let header = self.responseHeader, !HTTPToken.isValid(header) {
            reader.report("responseHeader", "expected a header name or null, got the string \"\(header)\"")
            self.responseHeader = defaults.responseHeader
        }
        self.replay = reader.object("replay", default: defaults.replay) { reader in
            var replay = Replay()
            replay.maxEvents = reader.integer("maxEvents", default: replay.maxEvents, in: 1...10_000_000)
            replay.maxBytes = reader.integer("maxBytes", default: replay.maxBytes, in: 1024...(1 << 34))
            return replay
        }
        reader.finish()
    }

    /// Reads one header name, lowercased.
    private static func headerName(
        _ value: JSONValue, at path: ConfigurationKeyPath, problems: ConfigurationProblems
    ) -> String? {
        guard case .string(let name) = value, HTTPToken.isValid(name) else {
            problems.report(path, "expected a header name, got \(value.summary)")
            return nil
        }
        return name.lowercased()
    }
}
