/// Which request headers go into a stream key by default: all of them, except the two lists
/// below. Names are lowercased; a trailing `*` makes an entry a prefix (`sec-fetch-*`).
///
/// Why every header by default: a credential can travel in any header (`X-API-Key`,
/// `X-Auth-Token`, `X-User`, `Proxy-Authorization`, a tenant header an auth gateway adds), and
/// a key that leaves one out lets two users share a stream, including the first user's
/// `Set-Cookie`. A list of headers that *do* carry identity can never be complete; a list of
/// headers that *cannot* can. The cost of a header wrongly kept in is a stream that is not
/// shared (counted per header name, so an operator can add it to `ignoreHeaders`); the cost of
/// one wrongly left out is a leak.
public enum StreamIdentityHeaders {
    /// Headers that describe how the client wants the response, or the connection, and never
    /// who the client is. Every browser sends most of them, with values that vary between
    /// browsers and versions, so varying on them would keep one user's tabs apart for nothing.
    public static let withoutIdentity: Set<String> = [
        // Content negotiation and caching: the relay's answer is `text/event-stream`, unencoded
        // upstream, whatever they say.
        "accept", "accept-encoding", "accept-language", "cache-control", "pragma", "if-none-match",
        "if-modified-since",
        // Where the client stands in the stream: a resume must find its generation under the
        // same key, so `Last-Event-ID` can never be part of it.
        "last-event-id",
        // What the browser says about itself and the page; not credentials.
        "user-agent", "referer", "dnt", "priority", "upgrade-insecure-requests", "sec-fetch-*", "sec-ch-*",
        // The message and its connection: `Host` names the site (every client of a conversation
        // sends it alike); the rest are hop-by-hop (RFC 9110 §7.6.1) or framing. `Proxy-*` is
        // hop-by-hop too but deliberately absent: `Proxy-Authorization` is a credential.
        "host", "content-length", "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Headers that load balancers, CDNs and tracing add with a new value on every request (or
    /// every hop). Varying on them would make every request's key unique and silently switch
    /// collapsing off as soon as the relay runs behind a load balancer.
    public static let perRequest: Set<String> = [
        // Request ids.
        "x-request-id", "x-correlation-id", "request-id",
        // Distributed tracing: W3C Trace Context and Baggage, Zipkin B3, AWS, Google Cloud,
        // Sentry, Datadog.
        "traceparent", "tracestate", "baggage", "b3", "x-b3-*", "x-amzn-trace-id", "x-cloud-trace-context",
        "sentry-trace", "x-datadog-*",
        // CDN and edge annotations: per-request ids and where the edge saw the client come from.
        "cf-ray", "cf-connecting-ip", "cf-ipcountry", "cf-visitor", "true-client-ip", "x-real-ip",
        // The proxy chain itself, which the relay extends.
        "x-forwarded-*", "forwarded", "via",
    ]

    /// Both lists, split once into exact names and prefixes for the per-request check.
    private static let defaultPatterns = HeaderNamePatterns(Self.withoutIdentity.union(Self.perRequest))

    /// Whether the default rule keeps `lowercasedName` out of the key.
    public static func isExcludedByDefault(_ lowercasedName: String) -> Bool {
        self.defaultPatterns.matches(lowercasedName)
    }

    /// Every entry of both lists, sorted, as `check-config` prints them.
    public static var excludedByDefault: [String] {
        self.withoutIdentity.union(self.perRequest).sorted()
    }
}

/// Lowercased header names and `prefix*` patterns, matched against lowercased names.
public struct HeaderNamePatterns: Sendable, Hashable {
    /// The entries without `*`.
    public let names: Set<String>
    /// The entries that ended in `*`, without it.
    public let prefixes: [String]

    public init(_ patterns: some Sequence<String>) {
        var names: Set<String> = []
        var prefixes: [String] = []
        for pattern in patterns {
            if pattern.hasSuffix("*") {
                prefixes.append(String(pattern.dropLast()))
            } else {
                names.insert(pattern)
            }
        }
        self.names = names
        self.prefixes = prefixes.sorted()
    }

    /// Whether `lowercasedName` is one of the names or starts with one of the prefixes.
    public func matches(_ lowercasedName: String) -> Bool {
        self.names.contains(lowercasedName) || self.prefixes.contains { lowercasedName.hasPrefix($0) }
    }

    public var isEmpty: Bool { self.names.isEmpty && self.prefixes.isEmpty }

    /// Whether `lowercasedName` matches one of `patterns` (names, or prefixes ending in `*`)
    /// without building a value first: a route's `ignoreHeaders` is short, usually empty.
    public static func matches(_ lowercasedName: String, anyOf patterns: [String]) -> Bool {
        patterns.contains { pattern in
            pattern.hasSuffix("*") ? lowercasedName.hasPrefix(pattern.dropLast()) : lowercasedName == pattern
        }
    }
}
