import NIOHTTP1
import SSERelayCore

/// What a new generation needs to start its upstream request: the balancer that chooses its
/// server, how long the upstream may take to answer, and what its head is made of.
///
/// The proxy hands it to ``StreamRegistry/resolve(key:route:lastEventID:client:eventLoop:upstream:)``
/// with every stream request; the registry uses it only when the request starts a generation,
/// so the proxy makes one call into the stream engine whatever the request turns out to be.
/// Plain values, so a join or a resume costs nothing for it.
struct GenerationUpstreamRequest {
    /// The balancer of the generation's event loop, which places it on a server.
    let upstreams: UpstreamBalancer
    /// `upstream.responseTimeoutSeconds` when the request arrived.
    let responseTimeoutSeconds: Double
    /// The client's request.
    let clientRequest: HTTPRequestHead
    /// The normalised target the backend is asked for (``RequestTarget/upstreamTarget``).
    let target: String
    /// The client's address, for `X-Forwarded-For`.
    let clientAddress: String?

    /// The upstream request's head for `server`, with the `Last-Event-ID` the resolution
    /// forwards (an id of the upstream's own, never a relay id).
    func head(forwardedLastEventID: String?, server: UpstreamServer) -> HTTPRequestHead {
        ProxyHeaderPolicy.upstreamStreamRequestHead(
            for: self.clientRequest, target: self.target, clientAddress: self.clientAddress,
            forwardedLastEventID: forwardedLastEventID, upstreamHost: server.hostHeader)
    }
}
