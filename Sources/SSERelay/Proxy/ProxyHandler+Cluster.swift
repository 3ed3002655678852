import Logging
import NIOCore
import NIOHTTP1
import SSERelayCore

/// The cluster's side of a client connection: the peer listener's check of forwarded requests,
/// the claim before a generation starts, and forwarding to the relay that holds a key.
extension ProxyHandler {
    /// A request on the peer listener: refused `403` unless it carries the peer secret, and
    /// `404` unless it is a stream request (peers forward nothing else). Returns the head
    /// without the peer headers, so that its stream key and the request sent upstream are the
    /// client's own, and the client address the forwarding relay gave; `nil` when it answered.
    func admitPeerRequest(_ head: HTTPRequestHead) -> (head: HTTPRequestHead, client: String?)? {
        guard let cluster = self.cluster, cluster.credentials.authenticates(head.headers) else {
            self.cluster?.metrics.record(.unauthorized)
            self.logger.warning(
                "peer listener refused a request without the peer secret",
                metadata: ["client": "\(self.clientAddress ?? "-")"])
            self.perform(
                self.machine.exchangeFailed(
                    answering: ErrorResponse(status: .forbidden, message: "this listener serves relays of the cluster"))
            )
            return nil
        }
        cluster.metrics.record(.accepted)
        var head = head
        let client = PeerCredentials.strip(&head.headers)
        return (head, client)
    }

    /// Claims `key` in the directory, then serves the request where the answer says: here
    /// (resolved again, since a request on this loop may have started the generation
    /// meanwhile), at the relay that holds the key, or nowhere while draining.
    func claimThenResolve(
        _ exchange: ProxyExchange, route: StreamRouteConfiguration, key: StreamKey, target: RequestTarget,
        cluster: ClusterNode
    ) {
        guard let context = self.context else { return }
        cluster.claim(key.directoryID, on: context.eventLoop).assumeIsolated().whenSuccess { decision in
            // The client may have left, or timed out, while the directory answered.
            guard self.exchange === exchange, self.context != nil else { return }
            switch decision {
            case .serveHere:
                self.resolveStream(exchange, route: route, key: key, target: target)
            case .forward(let owner) where self.isPeerListener:
                // Forwarded here, yet held elsewhere: the key moved between the two claims.
                // One hop at most, so the client retries and its next request finds the holder.
                self.logger.notice(
                    "a forwarded stream request's key is held by a third relay; telling the client to retry",
                    metadata: ["owner": "\(owner.peerAddress)"])
                self.registry.metrics.record(.rejected)
                exchange.record.outcome = .stream(.rejected)
                self.answerRetry(exchange, route: route, comment: "the stream moved, retrying")
            case .forward(let owner):
                self.forward(exchange, route: route, to: owner, cluster: cluster)
            case .refuse:
                self.registry.metrics.record(.rejected)
                exchange.record.outcome = .stream(.rejected)
                self.answerRetry(exchange, route: route, comment: "this relay is shutting down, retrying")
            }
        }
    }

    /// Relays the request to `owner`'s peer listener, as a pass-through request whose response
    /// (the owner's join, resume or start) goes to the client as it comes.
    private func forward(
        _ exchange: ProxyExchange, route: StreamRouteConfiguration, to owner: ClusterMember, cluster: ClusterNode
    ) {
        guard let context = self.context else { return }
        self.registry.metrics.record(.forwarded)
        exchange.record.outcome = .stream(.forwarded)
        cluster.peers.withPool(for: owner, on: context.eventLoop, streamBudget: self.upstreams.streamBudget) {
            result in
            guard self.exchange === exchange, self.context != nil else { return }
            switch result {
            case .success(let pool):
                exchange.peerForward = ProxyExchange.PeerForward(pool: pool, route: route)
                self.attachUpstream(to: exchange)
            case .failure(let error):
                cluster.metrics.record(.failed)
                self.logger.warning(
                    "cannot forward a stream request to the relay that holds its key",
                    metadata: ["owner": "\(owner.peerAddress)", "error": "\(error)"])
                self.answerRetry(exchange, route: route, comment: "upstream unavailable", status: .badGateway)
            }
        }
    }

    /// A forwarded request failed on its way to the owner or before its answer: the client is
    /// told to retry (by then the owner is back, or its lease expired and a relay claims the
    /// key afresh); once the answer started, the client's response ends early and it resumes
    /// with its `Last-Event-ID`.
    func forward(_ exchange: ProxyExchange, to forward: ProxyExchange.PeerForward, failed error: UpstreamError) {
        self.cluster?.metrics.record(.failed)
        self.logger.warning(
            "forwarding a stream request to the relay that holds its key failed",
            metadata: [
                "owner": "\(forward.pool.server.configuration.url.address)", "reason": "\(error.reason)",
                "error": "\(error.detail)",
            ])
        if self.machine.isAwaitingResponse {
            self.answerRetry(exchange, route: forward.route, comment: "upstream unavailable", status: .badGateway)
        } else {
            self.fail(exchange, answering: nil, outcome: .upstreamFailed(reason: error.reason))
        }
    }
}
