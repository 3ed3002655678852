import NIOHTTP1

/// What a new generation needs to start its upstream request: the pool to take a dedicated
/// connection from, how long the upstream may take to answer, and the head to send.
///
/// The proxy hands it to ``StreamRegistry/resolve(key:route:lastEventID:client:eventLoop:upstream:)``
/// with every stream request; the registry uses it only when the request starts a generation,
/// so the proxy makes one call into the stream engine whatever the request turns out to be.
struct GenerationUpstreamRequest {
    /// The pool of the generation's event loop.
    let pool: UpstreamConnectionPool
    /// `upstream.responseTimeoutSeconds` when the request arrived.
    let responseTimeoutSeconds: Double
    /// The upstream request's head, given the `Last-Event-ID` the resolution forwards (an id
    /// of the upstream's own, never a relay id).
    let head: (_ forwardedLastEventID: String?) -> HTTPRequestHead
}
