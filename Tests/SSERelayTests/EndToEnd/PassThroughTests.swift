import Foundation
import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// The relay in front of the Node fixture, compared with the fixture reached directly:
/// a request that is not a stream passes through unchanged but for hop-by-hop and forwarding
/// headers.
@Suite("Pass-through proxy", .timeLimit(.minutes(2)))
struct PassThroughTests {
    struct Echo: Decodable {
        var method: String
        var url: String
        var httpVersion: String
        var headers: [String: String]
        var bodyBytes: Int
        var bodySha256: String
    }

    @Test(
        "methods reach the upstream with their target, body and forwarding headers",
        arguments: [
            HTTPMethod.GET, .POST, .PUT, .DELETE, .PATCH, .OPTIONS,
        ])
    func methods(method: HTTPMethod) async throws {
        try await withRelay { relay in
            let body: ByteBuffer? = method == .GET ? nil : ByteBuffer(string: "payload for \(method)")
            let viaRelay = try await fetch(
                relay.address, method, "/echo?x=1&y=%20", headers: [("X-Custom", "kept")], body: body)
            let direct = try await fetch(
                relay.backendAddress, method, "/echo?x=1&y=%20", headers: [("X-Custom", "kept")], body: body)
            #expect(viaRelay.status == .ok)
            let relayed = try JSONDecoder().decode(Echo.self, from: Data(viaRelay.body.readableBytesView))
            let expected = try JSONDecoder().decode(Echo.self, from: Data(direct.body.readableBytesView))
            #expect(relayed.method == method.rawValue)
            #expect(relayed.url == "/echo?x=1&y=%20")
            #expect(relayed.bodySha256 == expected.bodySha256)
            #expect(relayed.bodyBytes == expected.bodyBytes)
            #expect(relayed.headers["x-custom"] == "kept")
            #expect(relayed.headers["host"] == "relay.test")
            #expect(relayed.headers["x-forwarded-for"] == "127.0.0.1")
            #expect(relayed.headers["x-forwarded-proto"] == "http")
            #expect(relayed.headers["x-forwarded-host"] == "relay.test")
            #expect(relayed.headers["via"] == "1.1 sse-relay")
            #expect(viaRelay.header("Via") == "1.1 sse-relay")
        }
    }

    @Test("hop-by-hop request headers are not forwarded and X-Forwarded-For is appended")
    func hopByHop() async throws {
        try await withRelay { relay in
            let response = try await fetch(
                relay.address, .GET, "/echo",
                headers: [
                    ("Connection", "keep-alive, X-Secret-Hop"), ("X-Secret-Hop", "1"), ("Keep-Alive", "timeout=5"),
                    ("Proxy-Authorization", "Basic abc"), ("TE", "trailers"), ("X-Forwarded-For", "203.0.113.7"),
                ]
            )
            let echo = try JSONDecoder().decode(Echo.self, from: Data(response.body.readableBytesView))
            for name in ["x-secret-hop", "keep-alive", "proxy-authorization", "te", "upgrade"] {
                #expect(echo.headers[name] == nil, "\(name) was forwarded")
            }
            #expect(echo.headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1")
        }
    }

    @Test("statuses and bodies match the upstream's", arguments: [200, 204, 304, 404, 500, 503])
    func statuses(code: Int) async throws {
        try await withRelay { relay in
            let viaRelay = try await fetch(relay.address, .GET, "/status/\(code)")
            let direct = try await fetch(relay.backendAddress, .GET, "/status/\(code)")
            #expect(viaRelay.status.code == UInt(code))
            #expect(viaRelay.text == direct.text)
            #expect(viaRelay.header("X-Status") == String(code))
            if code == 204 || code == 304 {
                #expect(viaRelay.body.readableBytes == 0)
            }
        }
    }

    @Test("HEAD keeps Content-Length and sends no body; the connection stays usable")
    func head() async throws {
        try await withRelay { relay in
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                let head = try await connection.request(.HEAD, "/hello")
                #expect(head.status == .ok)
                #expect(head.header("Content-Length") == "11")
                #expect(head.body.readableBytes == 0)
                let headChunked = try await connection.request(.HEAD, "/bytes/1000")
                #expect(headChunked.status == .ok)
                #expect(headChunked.body.readableBytes == 0)
                let get = try await connection.request(.GET, "/hello")
                #expect(get.text == "hello world")
            }
        }
    }

    @Test("10 MiB downloads are byte-identical, chunked and with Content-Length", arguments: ["", "?length=1"])
    func largeDownload(query: String) async throws {
        try await withRelay { relay in
            let size = 10 * 1024 * 1024
            let viaRelay = try await fetch(relay.address, .GET, "/bytes/\(size)\(query)")
            let direct = try await fetch(relay.backendAddress, .GET, "/bytes/\(size)\(query)")
            // Every 8-byte word differs, so a chunk lost, repeated or moved shows as a difference.
            let expected = Self.bytesPayload(count: size)
            #expect(direct.body == expected, "the fixture's /bytes payload is not the offset pattern")
            #expect(viaRelay.status == .ok)
            #expect(viaRelay.body.readableBytes == size)
            #expect(
                viaRelay.body == expected,
                "through the relay, the bytes first differ at offset \(Self.firstDifference(viaRelay.body, expected))")
            if query.isEmpty {
                #expect(viaRelay.header("Transfer-Encoding") == "chunked")
            } else {
                #expect(viaRelay.header("Content-Length") == String(size))
            }
        }
    }

    /// The fixture's `/bytes/:n` payload: each 8-byte word is its own byte offset (modulo
    /// 16 MiB), little-endian, so no two words of a 10 MiB download are equal.
    static func bytesPayload(count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count + 8)
        for offset in stride(from: 0, to: count, by: 8) {
            buffer.writeInteger(UInt64(offset % (16 << 20)), endianness: .little)
        }
        buffer.moveWriterIndex(to: count)
        return buffer
    }

    /// The first offset at which `received` and `expected` differ, or their common length.
    static func firstDifference(_ received: ByteBuffer, _ expected: ByteBuffer) -> Int {
        zip(received.readableBytesView, expected.readableBytesView).prefix { $0 == $1 }.count
    }

    @Test("10 MiB uploads arrive intact, with Content-Length and chunked", arguments: [false, true])
    func largeUpload(chunked: Bool) async throws {
        try await withRelay { relay in
            let block = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var body = ByteBuffer()
            for _ in 0..<160 {
                body.writeBytes(block)
            }
            let viaRelay = try await fetch(relay.address, .POST, "/upload", body: body, chunked: chunked)
            let direct = try await fetch(relay.backendAddress, .POST, "/upload", body: body, chunked: chunked)
            #expect(viaRelay.status == .ok)
            #expect(viaRelay.text == direct.text)
            #expect(viaRelay.text.contains("\"bytes\":10485760"))
        }
    }

    @Test("one client connection carries many requests over one pooled upstream connection")
    func keepAliveReuse() async throws {
        struct Stats: Decodable { var connections: Int }
        // The pooled connection must outlive any pause between two requests, on both sides:
        // under ThreadSanitizer beside the whole suite, one pause outlasted the relay's default
        // 4 s idle timeout, and another Node's 5 s keep-alive timeout, and a second connection
        // was rightly opened.
        let backend = try await BackendProcess.start(keepAliveSeconds: 300)
        defer { backend.stop() }
        let relay = try await RelayUnderTest.start(backend: backend) { $0.upstream.idleTimeoutSeconds = 300 }
        do {
            let before = try JSONDecoder().decode(
                Stats.self, from: Data(try await fetch(relay.backendAddress, .GET, "/stats").body.readableBytesView))
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                for index in 0..<20 {
                    let response = try await connection.request(
                        .GET, index.isMultiple(of: 2) ? "/hello" : "/status/404")
                    #expect(response.status == (index.isMultiple(of: 2) ? .ok : .notFound))
                }
            }
            let after = try JSONDecoder().decode(
                Stats.self, from: Data(try await fetch(relay.backendAddress, .GET, "/stats").body.readableBytesView))
            // One connection from the relay's pool, one from the second direct /stats request.
            #expect(after.connections - before.connections == 2)
        } catch {
            await relay.stop()
            throw error
        }
        await relay.stop()
    }

    @Test("HTTP/1.0 clients: the body ends with the connection when its length is unknown")
    func http10() async throws {
        try await withRelay { relay in
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                let response = try await connection.request(
                    .GET, "/hello", version: .http1_0, headers: [("Connection", "keep-alive")])
                #expect(response.head.version == .http1_0)
                #expect(response.text == "hello world")
                #expect(response.header("Connection") == "keep-alive")
                let streamed = try await connection.request(
                    .GET, "/bytes/100000", version: .http1_0, headers: [("Connection", "keep-alive")])
                #expect(streamed.body.readableBytes == 100_000)
                #expect(streamed.header("Transfer-Encoding") == nil)
                #expect(try await connection.isClosedByServer())
            }
        }
    }

    @Test("Connection: close is honoured")
    func connectionClose() async throws {
        try await withRelay { relay in
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                let response = try await connection.request(.GET, "/hello", headers: [("Connection", "close")])
                #expect(response.text == "hello world")
                #expect(response.header("Connection") == "close")
                #expect(try await connection.isClosedByServer())
            }
        }
    }

    @Test("an Upgrade is tunnelled byte for byte after the upstream's 101")
    func upgrade() async throws {
        try await withRelay { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    "GET /ws HTTP/1.1\r\nHost: relay.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
                let head = try await connection.read(until: "\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
                #expect(head.lowercased().contains("upgrade: echo"))
                for message in ["ping", "\u{0}\u{1}binary\r\n\r\n", String(repeating: "x", count: 200_000)] {
                    try await connection.write(message)
                    #expect(try await connection.read(until: message) == message)
                }
            }
        }
    }

    @Test("Expect: 100-continue is answered by the relay")
    func expectContinue() async throws {
        try await withRelay { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    "POST /upload HTTP/1.1\r\nHost: relay.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
                #expect(try await connection.read(until: "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n")
                try await connection.write("hello")
                let head = try await connection.read(until: "\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 200 OK"))
                #expect(try await connection.read(until: "}").contains("\"bytes\":5"))
            }
        }
    }

    @Test("pipelined requests are answered in order")
    func pipelining() async throws {
        try await withRelay { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    "GET /status/404 HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /status/500 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                )
                let all = try await connection.readToEnd()
                // A body without a line ending can be followed directly by the next status line.
                let statuses = all.ranges(of: "HTTP/1.1 ").map { all[$0.upperBound...].prefix(3) }
                #expect(statuses == ["404", "200", "500"])
                #expect(all.contains("hello world"))
            }
        }
    }
}

extension PassThroughTests {
    @Test("bytes sent right behind the Upgrade request reach the upstream")
    func upgradeWithEarlyBytes() async throws {
        try await withRelay { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write(
                    "GET /ws HTTP/1.1\r\nHost: relay.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly-bytes")
                let head = try await connection.read(until: "\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
                #expect(try await connection.read(until: "early-bytes") == "early-bytes")
            }
        }
    }
}

extension PassThroughTests {
    @Test("an HTTP/1.0 request without Host reaches the upstream with the upstream's Host")
    func http10WithoutHost() async throws {
        try await withRelay { relay in
            try await RawTestConnection.withConnection(to: relay.address) { connection in
                try await connection.write("GET /echo HTTP/1.0\r\n\r\n")
                let all = try await connection.readToEnd()
                #expect(all.hasPrefix("HTTP/1.0 200 OK\r\n"))
                #expect(all.contains("\"host\":\"127.0.0.1:\(try #require(relay.backend?.port))\""))
            }
        }
    }
}

extension PassThroughTests {
    @Test("accepted connections get TCP_NODELAY at the TCP level, and no privileged socket option")
    func socketOptions() async throws {
        try await withRelay { relay in
            try await HTTPTestConnection.withConnection(to: relay.address) { connection in
                #expect(try await connection.request(.GET, "/hello").status == .ok)
                let channel = try #require(relay.server.connections.all.first)
                #expect(try await channel.getOption(.tcpOption(.tcp_nodelay)).get() != 0)
                // Option 1 at the socket level is SO_DEBUG, which needs CAP_NET_ADMIN: setting it
                // by mistake made every connection fail for a relay not running as root.
                let debug = NIOBSDSocket.Option(rawValue: SO_DEBUG)
                #expect(try await channel.getOption(.socketOption(debug)).get() == 0)
            }
        }
    }
}
