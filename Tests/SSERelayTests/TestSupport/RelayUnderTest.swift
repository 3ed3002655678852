import Logging
import NIOCore
import NIOPosix
import SSERelay
import SSERelayCore

/// A relay running in-process on 127.0.0.1 with an OS-chosen port, in front of `backend`.
struct RelayUnderTest {
    let server: ProxyServer
    let backend: BackendProcess?

    var address: SocketAddress { self.server.localAddress }

    /// Starts a backend fixture and a relay in front of it; `adjust` changes the configuration.
    static func start(
        backend: BackendProcess?,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ adjust: (inout RelayConfiguration) -> Void = { _ in }
    ) async throws -> RelayUnderTest {
        var configuration = RelayConfiguration()
        configuration.listen = HostAndPort(host: "127.0.0.1", port: 0)
        configuration.admin.listen = nil
        // The suite runs hundreds of tests at once on two cores, ten times slower under the
        // sanitizers: a test client's task can wait seconds between connecting and writing its
        // request, which the default 10 s header timeout answers with 408. Tests of that timeout
        // set their own.
        configuration.limits.headerReadTimeoutSeconds = 120
        if let backend {
            configuration.upstream.url = UpstreamURL(host: "127.0.0.1", port: backend.port)
        }
        adjust(&configuration)
        var logger = Logger(label: "sse-relay-test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        let server = try await ProxyServer.bind(configuration: configuration, logger: logger, group: group)
        return RelayUnderTest(server: server, backend: backend)
    }

    /// Stops the relay; the backend too when it is not the shared one.
    func stop(stoppingBackend: Bool = false) async {
        await self.server.shutdown(gracePeriod: .seconds(5))
        if stoppingBackend {
            await self.backend?.stopAndWait()
        }
    }
}

/// Runs `body` with a relay in front of the shared backend fixture (or a dedicated one, for
/// tests that read the backend's counters), then stops the relay.
func withRelay<Result>(
    dedicatedBackend: Bool = false,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    _ adjust: (inout RelayConfiguration) -> Void = { _ in },
    _ body: (RelayUnderTest) async throws -> Result
) async throws -> Result {
    let backend = dedicatedBackend ? try await BackendProcess.start() : try await BackendProcess.shared
    let relay: RelayUnderTest
    do {
        relay = try await RelayUnderTest.start(backend: backend, group: group, adjust)
    } catch {
        if dedicatedBackend { backend.stop() }
        throw error
    }
    do {
        let result = try await body(relay)
        await relay.stop(stoppingBackend: dedicatedBackend)
        return result
    } catch {
        await relay.stop(stoppingBackend: dedicatedBackend)
        throw error
    }
}

extension RelayUnderTest {
    /// The backend's own address, for comparing with responses through the relay.
    var backendAddress: SocketAddress {
        get throws {
            guard let backend else { throw FixtureError("no backend") }
            return try SocketAddress(ipAddress: "127.0.0.1", port: backend.port)
        }
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing call, to clean up before rethrowing.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
