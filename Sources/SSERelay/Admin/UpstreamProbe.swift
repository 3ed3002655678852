import NIOCore
import NIOPosix
import SSERelayCore

/// `/readyz`'s question "can the upstream be reached right now?", answered by opening (and at
/// once closing) a TCP connection to it.
///
/// Asked on every `/readyz` rather than derived from recent traffic: an idle relay has no
/// traffic to judge by, and a load balancer's health check must see a dead backend before the
/// first user does. The connect is bounded by `upstream.connectTimeoutSeconds` (at most 2 s, so
/// a health checker's own timeout never fires first).
struct UpstreamProbe: Sendable {
    let upstream: UpstreamURL
    /// The probe connects to the next of them, as a request would.
    let addresses: UpstreamAddresses
    let timeoutSeconds: Double
    let group: any EventLoopGroup

    init(upstream: UpstreamConfiguration, addresses: UpstreamAddresses, group: any EventLoopGroup) {
        self.upstream = upstream.url
        self.addresses = addresses
        self.timeoutSeconds = min(upstream.connectTimeoutSeconds, 2)
        self.group = group
    }

    /// `nil` when a connection was accepted, otherwise why not.
    func check() -> EventLoopFuture<UpstreamError?> {
        let upstream = self.upstream.description
        let timeout = self.timeoutSeconds
        guard let address = self.addresses.next() else {
            self.addresses.connectFailed()
            return self.group.next().makeSucceededFuture(
                .unresolved(self.addresses.name, self.addresses.resolutionError))
        }
        return ClientBootstrap(group: self.group)
            .connectTimeout(.fractionalSeconds(timeout))
            .connect(to: address)
            .flatMap { channel in channel.close().map { nil } }
            .flatMapErrorThrowing { error in
                .connectFailure(error, upstream: upstream, connectTimeoutSeconds: timeout)
            }
    }
}
