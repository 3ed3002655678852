import FuzzSupport
import NIOCore
import SSERelayCore

/// Decodes one connection's bytes with the relay's client decoder and checks every request
/// that comes out against the relay's header policy, its stream routing and, by writing what the
/// relay would send upstream and reading it back as the backend would, its framing.
///
/// Invariants (each named in ``Oracle`` reports):
/// - `decoder-parts`: NIO hands over head, body parts, end, in that order.
/// - `request-line`, `hop-by-hop`, `host`, `single-host`, `forwarded`, `expect`,
///   `body-announced`: see ``HeadPolicyOracle``.
/// - `upstream-framing`, `upstream-head`: see ``UpstreamRoundTrip``.
/// - `route-match`, `stream-key`, `route-pattern`: see ``StreamKeyOracle``.
/// - `response-framing`: see ``ResponseFramingOracle``.
enum RequestHeadHarness {
    /// Pipelined requests checked per input; more only repeat the same work.
    static let maximumRequests = 32

    static func run(_ bytes: [UInt8]) {
        let outcome = RequestDecoding.decodeAsRelay(ByteBuffer(bytes: bytes))
        Oracle.check(!outcome.isMalformed, "decoder-parts", "parts out of order from the client decoder")
        if Oracle.isVerbose {
            Oracle.log("client decoder: \(outcome.requests.count) requests, error \(String(describing: outcome.error))")
        }
        for request in outcome.requests.prefix(self.maximumRequests) {
            guard let upstream = RelayRequestModel.upstreamRequest(for: request) else {
                // Refused (`RequestPlan.reject`), answered 400/405 and closed: nothing reaches
                // the upstream, and nothing after it on the connection is read.
                StreamKeyOracle.check(request.head)
                ResponseFramingOracle.check(request.head)
                break
            }
            if Oracle.isVerbose {
                Oracle.log("request \(request.head), \(request.bodyBytes) body bytes, complete \(request.isComplete)")
                Oracle.log("  upstream \(upstream.head), \(upstream.body.count) body parts")
            }
            HeadPolicyOracle.check(request, sentAs: upstream)
            StreamKeyOracle.check(request.head)
            ResponseFramingOracle.check(request.head)
            // A request that the decoder failed in is answered `400`/`431` and its upstream
            // connection closed (`ProxyConnectionStateMachine.requestMalformed`): nothing is read after its head.
            if request.isComplete || outcome.error == nil {
                UpstreamRoundTrip.check(request, sentAs: upstream)
            }
        }
    }
}
