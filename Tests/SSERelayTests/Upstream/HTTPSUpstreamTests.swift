import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SSERelayCore
import Testing

@testable import SSERelay

/// The relay in front of the Node fixture serving HTTPS with a certificate made for the test:
/// pass-through and streams work when the certificate verifies, and fail with a clear error
/// when its authority is unknown or it names another host.
@Suite(
    "HTTPS upstream servers", .timeLimit(.minutes(1)),
    .enabled(if: TestCertificates.isAvailable, "needs the openssl command; .ci/run installs it"))
struct HTTPSUpstreamTests {
    /// An HTTPS backend with a certificate for `names`, and a relay in front of it at
    /// `https://127.0.0.1:PORT` with `tls`.
    private static func start(
        names: [String] = ["IP:127.0.0.1", "DNS:localhost"],
        _ tls: (TestCertificates) -> UpstreamTLSConfiguration
    ) async throws -> (RelayUnderTest, BackendProcess, TestCertificates) {
        let certificates = try TestCertificates(subjectAlternativeNames: names)
        let backend = try await BackendProcess.start(
            tls: (key: certificates.serverKey, certificate: certificates.serverCertificate))
        let relay = try await RelayUnderTest.start(backend: nil) { configuration in
            configuration.upstream.url = UpstreamURL(scheme: .https, host: "127.0.0.1", port: backend.port)
            configuration.upstream.tls = tls(certificates)
        }
        return (relay, backend, certificates)
    }

    private static func withCA(_ certificates: TestCertificates) -> UpstreamTLSConfiguration {
        var tls = UpstreamTLSConfiguration()
        tls.caFile = certificates.caFile
        return tls
    }

    @Test("with the backend's authority in caFile, pass-through and streams work over TLS")
    func verified() async throws {
        let (relay, backend, certificates) = try await Self.start(Self.withCA)
        defer { backend.stop() }
        defer { withExtendedLifetime(certificates) {} }
        let hello = try await fetch(relay.address, .GET, "/hello")
        #expect(hello.status == .ok)
        #expect(hello.text == "hello world")
        let events = try await SSETestStream.open(relay.address, "/api/conversation/tls/stream?events=3&interval=1") {
            try await $0.readToEnd().compactMap(\.data)
        }
        #expect(events == ["token 1 of tls", "token 2 of tls", "token 3 of tls"])
        await relay.stop()
    }

    /// A request through the relay that fails on TLS: `502` saying so, counted as `tls_failed`.
    private static func expectTLSFailure(_ relay: RelayUnderTest) async throws {
        let response = try await fetch(relay.address, .GET, "/hello")
        #expect(response.status == .badGateway)
        #expect(response.text.contains("cannot connect to the upstream securely"), "\(response.text)")
        #expect(
            try RelayMetricsProbe(relay: relay).value("sse_relay_upstream_errors_total", ["reason": "tls_failed"]) == 1)
    }

    @Test("a certificate from an authority the relay does not trust fails the connect: 502, tls_failed")
    func unknownAuthority() async throws {
        let (relay, backend, certificates) = try await Self.start { _ in UpstreamTLSConfiguration() }
        defer { backend.stop() }
        defer { withExtendedLifetime(certificates) {} }
        try await Self.expectTLSFailure(relay)
        let check = UpstreamHealthChecker(
            server: relay.server.upstreamServers[0], check: UpstreamHealthCheckConfiguration(path: "/hello"),
            group: MultiThreadedEventLoopGroup.singleton)
        let failure = try #require(await check.checkOnce())
        #expect(failure.hasPrefix("TLS with upstream https://127.0.0.1:\(backend.port) failed:"), "\(failure)")
        #expect(failure.contains("CERTIFICATE_VERIFY_FAILED"), "\(failure)")
        await relay.stop()
    }

    @Test("a certificate for another name fails the connect: 502, tls_failed")
    func wrongName() async throws {
        let (relay, backend, certificates) = try await Self.start(names: ["DNS:other.test"], Self.withCA)
        defer { backend.stop() }
        defer { withExtendedLifetime(certificates) {} }
        try await Self.expectTLSFailure(relay)
        await relay.stop()
    }

    @Test("insecureSkipVerify accepts a certificate nothing vouches for")
    func insecure() async throws {
        let (relay, backend, certificates) = try await Self.start(names: ["DNS:other.test"]) { _ in
            var tls = UpstreamTLSConfiguration()
            tls.insecureSkipVerify = true
            return tls
        }
        defer { backend.stop() }
        defer { withExtendedLifetime(certificates) {} }
        #expect(try await fetch(relay.address, .GET, "/hello").text == "hello world")
        await relay.stop()
    }

    @Test("a caFile that does not read stops the start with the key path")
    func unreadableAuthority() async throws {
        await #expect {
            _ = try await RelayUnderTest.start(backend: nil) { configuration in
                configuration.upstream.url = UpstreamURL(scheme: .https, host: "127.0.0.1", port: 1)
                configuration.upstream.tls.caFile = "/nonexistent/ca.pem"
            }
        } throws: { error in
            "\(error)".hasPrefix("upstream.tls.caFile: cannot read certificates from /nonexistent/ca.pem")
        }
    }
}
