import NIOCore
import NIOPosix
import SSERelayCore

/// `/readyz`'s question "can the upstream be reached right now?", answered by opening (and at
/// once closing) a TCP connection to a server in the rotation.
///
/// Asked on every `/readyz` rather than derived from recent traffic: an idle relay has no
/// traffic to judge by, and a load balancer's health check must see a dead backend before the
/// first user does. Each connect is bounded by `upstream.connectTimeoutSeconds` (at most 2 s,
/// so a health checker's own timeout never fires first).
///
/// With several servers the relay is ready while one of them is: the servers their health
/// keeps in the rotation are tried in order until one accepts. When health took every one out,
/// the relay is not ready, whatever a connect would say: requests still go to them, but a
/// balancer in front should prefer another relay.
struct UpstreamProbe: Sendable {
    /// The proxy whose servers are probed: read at every check, so a reload's are.
    let proxy: ProxyServer
    let group: any EventLoopGroup

    /// `nil` when a server accepted a connection, otherwise why none did.
    func check() -> EventLoopFuture<String?> {
        let loop = self.group.next()
        let now = NIODeadline.now()
        let servers = self.proxy.upstreamServers
        let candidates = servers.filter { $0.takesTraffic(at: now) }
        guard !candidates.isEmpty else {
            return loop.makeSucceededFuture(
                "no upstream server is in the rotation: health took all \(servers.count) out")
        }
        return self.check(candidates[...], failures: [], on: loop)
    }

    /// Tries `candidates` in turn; bounded by their number.
    private func check(
        _ candidates: ArraySlice<UpstreamServer>, failures: [String], on loop: any EventLoop
    ) -> EventLoopFuture<String?> {
        guard let server = candidates.first else {
            return loop.makeSucceededFuture(failures.joined(separator: "; "))
        }
        return self.connect(to: server).flatMap { failure in
            guard let failure else { return loop.makeSucceededFuture(nil) }
            return self.check(candidates.dropFirst(), failures: failures + [failure.detail], on: loop)
        }
    }

    /// `nil` when `server` accepted a connection, otherwise why not.
    private func connect(to server: UpstreamServer) -> EventLoopFuture<UpstreamError?> {
        let timeout = min(self.proxy.configuration.upstream.connectTimeoutSeconds, 2)
        let address: SocketAddress
        do {
            address = try server.addresses.nextForConnection()
        } catch {
            return self.group.next().makeSucceededFuture(error)
        }
        return ClientBootstrap(group: self.group)
            .connectTimeout(.fractionalSeconds(timeout))
            .connect(to: address)
            .flatMap { channel in channel.close().map { nil } }
            .flatMapErrorThrowing { error in
                .connectFailure(error, upstream: server.name, connectTimeoutSeconds: timeout)
            }
    }
}
