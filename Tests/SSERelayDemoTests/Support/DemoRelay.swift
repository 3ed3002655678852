import Logging
import NIOCore
import SSERelay
import SSERelayCore

/// A relay running in-process on 127.0.0.1 with an OS-chosen port, in front of an upstream on
/// `upstreamPort` (the demo backend): the little of `SSERelayTests`' relay helper the demo's
/// tests need.
struct DemoRelay {
    let server: ProxyServer

    var address: SocketAddress { self.server.localAddress }

    /// Binds a relay with the default configuration, no admin listener, and a silent log.
    static func start(upstreamPort: Int) async throws -> DemoRelay {
        var configuration = RelayConfiguration()
        configuration.listen = HostAndPort(host: "127.0.0.1", port: 0)
        configuration.admin.listen = nil
        configuration.upstream.url = UpstreamURL(host: "127.0.0.1", port: upstreamPort)
        var logger = Logger(label: "sse-relay-demo-test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return DemoRelay(server: try await ProxyServer.bind(configuration: configuration, logger: logger))
    }

    /// Stops the relay, letting what is in flight finish within 5 s.
    func stop() async {
        await self.server.shutdown(gracePeriod: .seconds(5))
    }
}
