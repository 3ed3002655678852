import NIOCore
import NIOHTTP1
import SSERelayCore

/// What the relay sends upstream for a request its client decoder produced, by the production
/// decisions themselves: ``RequestPlan`` says whether the request is refused, a stream request
/// or passed through, and the core's ``ProxyHeaderPolicy`` builds the upstream head.
///
/// The server module carries these decisions out (`ProxyHandler+Exchange.swift`): a stream
/// request that starts a generation sends
/// ``ProxyHeaderPolicy/upstreamStreamRequestHead(for:target:clientAddress:forwardedLastEventID:upstreamHost:)``
/// followed by `.end(nil)` and no body; every other request goes out as
/// ``ProxyHeaderPolicy/upstreamRequestHead(for:clientAddress:upgrade:upstreamHost:)`` followed
/// by the client's body parts and its end with trailers.
enum RelayRequestModel {
    /// What the relay writes on the upstream connection for one request.
    struct UpstreamRequest {
        var head: HTTPRequestHead
        var body: [ByteBuffer]
        var trailers: HTTPHeaders?
        /// Whether the relay has written the request's end: a stream request's at once, any
        /// other once the client's request ended.
        var isComplete: Bool
        /// The protocol the client asked to switch to (`Connection: upgrade` and `Upgrade`).
        var upgrade: String?
        /// The stream route the request matched, when it is a stream request.
        var streamRoute: StreamRouteConfiguration?
    }

    /// The client address the relay's handler reads from the socket.
    static let clientAddress = "192.0.2.7"

    /// The `Host` the relay sends when the client sent none: the default upstream's.
    static let upstreamHost = UpstreamConfiguration().url.hostHeader

    /// The stream routes of the harness's configuration: the embedded default and three shapes
    /// the default does not have (a literal path, two parameters, the root).
    static let routes: [StreamRouteConfiguration] = {
        var routes = [StreamRouteConfiguration.defaultRoute]
        for (text, includesQuery) in [("/events", false), ("/sse/:topic/:id", true), ("/", true)] {
            do {
                var route = StreamRouteConfiguration(path: try RoutePattern(parsing: text))
                route.keyIncludesQuery = includesQuery
                routes.append(route)
            } catch {
                fatalError("harness: route \(text): \(error)")
            }
        }
        return routes
    }()

    /// What the relay sends upstream for `request`, or `nil` when it refuses the request.
    static func upstreamRequest(for request: DecodedRequest) -> UpstreamRequest? {
        let head = request.head
        switch RequestPlan(for: head, routes: self.routes, redaction: .standard) {
        case .reject:
            return nil
        case .stream(let route, _, let target):
            let resolution = StreamRequestResolution.resolve(
                lastEventID: head.headers.first(name: "last-event-id"),
                generations: [NoGeneration](),
                joinFrom: route.joinFrom
            )
            guard case .start(let forwardedLastEventID, _) = resolution else {
                fatalError("harness: with no generation a stream request starts one, got \(resolution)")
            }
            return UpstreamRequest(
                head: self.streamHead(
                    for: head, target: target.upstreamTarget, forwardedLastEventID: forwardedLastEventID),
                body: [],
                trailers: nil,
                isComplete: true,
                upgrade: nil,
                streamRoute: route
            )
        case .passThrough(let upgrade):
            return UpstreamRequest(
                head: ProxyHeaderPolicy.upstreamRequestHead(
                    for: head, clientAddress: self.clientAddress, upgrade: upgrade, upstreamHost: self.upstreamHost),
                body: request.body,
                trailers: request.trailers,
                isComplete: request.isComplete,
                upgrade: upgrade,
                streamRoute: nil
            )
        }
    }

    /// The stream request's head, as the relay builds it when a generation starts.
    /// A stream request asks the backend for its normalised target (`target`), as the relay does.
    static func streamHead(
        for request: HTTPRequestHead, target: String, forwardedLastEventID: String?
    ) -> HTTPRequestHead {
        ProxyHeaderPolicy.upstreamStreamRequestHead(
            for: request, target: target, clientAddress: self.clientAddress,
            forwardedLastEventID: forwardedLastEventID, upstreamHost: self.upstreamHost)
    }
}

/// The element type of the empty generation list a new stream key resolves against.
struct NoGeneration: ResumableGeneration {
    var token: String { "" }
    var isUpstreamOpen: Bool { false }
    var hasFailed: Bool { false }
    var firstSequence: Int { 1 }
    var nextSequence: Int { 1 }

    func sequence(ofID id: String) -> Int? { nil }
}
