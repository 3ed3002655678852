import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SSERelayCore
import Testing

@testable import SSERelay

/// What clients get when something fails, and that the relay serves on afterwards: 502, 504, 408,
/// 431 and 503.
@Suite("Proxy errors", .timeLimit(.minutes(2)))
struct ProxyErrorTests {
    @Test("an upstream that refuses connections gets 502")
    func upstreamDown() async throws {
        let refusing = try RefusingPort()
        let relay = try await RelayUnderTest.start(backend: nil) { configuration in
            configuration.upstream.url = UpstreamURL(host: "127.0.0.1", port: refusing.port)
        }
        let result = await Result(catching: { try await fetch(relay.address, .GET, "/hello") })
        await relay.stop()
        withExtendedLifetime(refusing) {}
        let response = try result.get()
        #expect(response.status == .badGateway)
        // The client is told what failed, never where the upstream is.
        #expect(response.text == "upstream refused the connection\n")
        #expect(!response.text.contains("127.0.0.1"))
        #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
    }

    @Test("an upstream that never answers gets 504 after the response timeout")
    func upstreamHang() async throws {
        // Long enough that `/hello` on the same connection never hits it, even on a loaded machine.
        try await withRelay({ $0.upstream.responseTimeoutSeconds = 1 }) { relay in
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                let response = try await connection.request(.GET, "/hang")
                #expect(response.status == .gatewayTimeout)
                #expect(response.text == "upstream did not respond in time\n")
                // The client connection stays usable.
                #expect(try await connection.request(.GET, "/hello").text == "hello world")
            }
        }
    }

    @Test(
        "malformed requests get 400 and a closed connection; the relay serves on",
        arguments: [
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "NOT A REQUEST\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "GET / HTTP/9.9\r\nHost: a\r\n\r\n",
        ])
    func malformed(request: String) async throws {
        try await withRelay { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(request)
                let answer = try await connection.readToEnd()
                #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "got \(answer.debugDescription)")
                #expect(answer.contains("malformed HTTP request"))
            }
            #expect(try await fetch(relay.address, .GET, "/hello").text == "hello world")
        }
    }

    @Test("a header block over limits.maxHeaderBytes gets 431")
    func oversizedHeaders() async throws {
        try await withRelay({ $0.limits.maxHeaderBytes = 4096 }) { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    "GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "a", count: 5000))\r\n\r\n")
                let answer = try await connection.readToEnd()
                #expect(answer.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
                #expect(answer.contains("request header fields too large"))
            }
            #expect(try await fetch(relay.address, .GET, "/hello").text == "hello world")
        }
    }

    @Test("connections over limits.maxConnections get 503 with Retry-After")
    func connectionLimit() async throws {
        try await withRelay({ $0.limits.maxConnections = 2 }) { relay in
            try await HTTPTestConnection.withConnection(to: relay.address) { first in
                try await HTTPTestConnection.withConnection(to: relay.address) { second in
                    let firstResponse = try await first.request(.GET, "/hello")
                    let secondResponse = try await second.request(.GET, "/hello")
                    #expect(firstResponse.status == .ok)
                    #expect(secondResponse.status == .ok)
                    try await RawTestConnection.withConnection(to: relay.address) { third in
                        let answer = try await third.readToEnd()
                        #expect(answer.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
                        #expect(answer.contains("Retry-After: 1\r\n"))
                        #expect(answer.contains("the relay is at capacity"))
                    }
                }
            }
        }
    }

    @Test("a client that sends no request head in time gets 408")
    func headerReadTimeout() async throws {
        try await withRelay({ $0.limits.headerReadTimeoutSeconds = 0.2 }) { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write("GET / HTTP/1.1\r\nHost: a\r\n")
                let answer = try await connection.readToEnd()
                #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
            }
        }
    }

    @Test("an idle keep-alive connection is closed after limits.idleTimeoutSeconds")
    func idleTimeout() async throws {
        try await withRelay({ $0.limits.idleTimeoutSeconds = 0.2 }) { relay in
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                let response = try await connection.request(.GET, "/hello")
                let closed = try await connection.isClosedByServer()
                #expect(response.status == .ok)
                #expect(closed)
            }
        }
    }
}

extension ProxyErrorTests {
    @Test("an upload slower than the response timeout is not cut: the clock starts once it is sent")
    func slowUploadIsNotAResponseTimeout() async throws {
        // 1 s: long enough for the backend's answer once the upload is in, even on a loaded
        // machine; the pause in the upload is longer.
        try await withRelay({ $0.upstream.responseTimeoutSeconds = 1 }) { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nfirst")
                // The relay has forwarded the first half when the backend has received it; the
                // response timeout would have fired long before the second half is sent.
                try await ContinuousClock().sleep(for: .milliseconds(1_500))
                try await connection.write("-half")
                let head = try await connection.read(until: "\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 200 OK"))
                #expect(try await connection.read(until: "}").contains("\"bytes\":10"))
            }
        }
    }

    @Test("a request body that stalls past limits.idleTimeoutSeconds gets 408")
    func stalledUpload() async throws {
        try await withRelay({ $0.limits.idleTimeoutSeconds = 0.2 }) { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nfirst")
                let answer = try await connection.readToEnd()
                #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
                #expect(answer.contains("request body timeout"))
            }
        }
    }

    @Test("requests beyond upstream.maxConnections wait, then get 503 when none is released")
    func upstreamConnectionLimit() async throws {
        // One event loop, so the one allowed upstream connection is this loop's whole pool.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let result = await Result(catching: {
            try await withRelay(
                dedicatedBackend: true, group: group,
                {
                    $0.upstream.maxConnections = 1
                    $0.upstream.connectTimeoutSeconds = 0.2
                }
            ) { relay in
                try await RawTestConnection.withConnection(to: relay.address) { hanging in
                    // Holds the only upstream connection: the backend never answers /hang.
                    var counter = try await BackendRequestCounter(relay: relay)
                    try await hanging.write("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
                    try await counter.wait(forRequests: 1)
                    let response = try await fetch(relay.address, .GET, "/hello")
                    #expect(response.status == .serviceUnavailable)
                    // The pool's size is the operator's business, not the client's.
                    #expect(response.text == "upstream busy, try again\n")
                }
                // Released once the relay noticed the hanging client left: served again.
                var after = try await fetch(relay.address, .GET, "/hello")
                for _ in 0..<100 where after.status == .serviceUnavailable {
                    after = try await fetch(relay.address, .GET, "/hello")
                }
                #expect(after.text == "hello world")
            }
        })
        try await group.shutdownGracefully()
        try result.get()
    }
}
