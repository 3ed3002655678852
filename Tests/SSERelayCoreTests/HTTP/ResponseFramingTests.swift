import NIOHTTP1
import Testing

@testable import SSERelayCore

@Suite("ResponseFraming")
struct ResponseFramingTests {
    private struct Outcome {
        var framing: ResponseFraming
        var headers: HTTPHeaders
    }

    private static func frame(
        _ headers: [(String, String)],
        status: HTTPResponseStatus = .ok,
        method: HTTPMethod = .GET,
        client: HTTPVersion = .http1_1
    ) -> Outcome {
        var headers = HTTPHeaders(headers)
        let framing = ResponseFraming.frame(
            headers: &headers, status: status, requestMethod: method, clientVersion: client)
        return Outcome(framing: framing, headers: headers)
    }

    @Test(
        "1xx and 204 have no body and lose any Content-Length",
        arguments: [
            HTTPResponseStatus.continue, .switchingProtocols, .processing,
            .custom(code: 103, reasonPhrase: "Early Hints"),
            .custom(code: 199, reasonPhrase: "X"), .noContent,
        ]
    )
    func informationalAndNoContent(status: HTTPResponseStatus) {
        for method in [HTTPMethod.GET, .HEAD, .POST] {
            for client in [HTTPVersion.http1_1, .http1_0] {
                let outcome = Self.frame(
                    [("Content-Length", "12"), ("Content-Type", "text/plain")], status: status, method: method,
                    client: client)
                #expect(outcome.framing == .noBody)
                #expect(!outcome.headers.contains(name: "content-length"))
                #expect(!outcome.headers.contains(name: "transfer-encoding"))
                #expect(outcome.headers["content-type"] == ["text/plain"])
            }
        }
    }

    @Test("A 204 without Content-Length gets no Transfer-Encoding either")
    func noContentWithoutLength() {
        let outcome = Self.frame([], status: .noContent)
        #expect(outcome.framing == .noBody)
        #expect(outcome.headers.isEmpty)
    }

    @Test("304 has no body but keeps its Content-Length", arguments: [HTTPMethod.GET, .HEAD])
    func notModified(method: HTTPMethod) {
        let outcome = Self.frame(
            [("Content-Length", "1234"), ("ETag", "\"v1\"")], status: .notModified, method: method)
        #expect(outcome.framing == .noBody)
        #expect(outcome.headers["content-length"] == ["1234"])
        #expect(!outcome.headers.contains(name: "transfer-encoding"))
    }

    @Test("304 without Content-Length is not given Transfer-Encoding", arguments: [HTTPVersion.http1_1, .http1_0])
    func notModifiedWithoutLength(client: HTTPVersion) {
        let outcome = Self.frame([], status: .notModified, client: client)
        #expect(outcome.framing == .noBody)
        #expect(outcome.headers.isEmpty)
    }

    @Test(
        "HEAD responses have no body and keep Content-Length",
        arguments: [HTTPResponseStatus.ok, .notFound, .internalServerError, .movedPermanently, .partialContent]
    )
    func headKeepsLength(status: HTTPResponseStatus) {
        for client in [HTTPVersion.http1_1, .http1_0] {
            let outcome = Self.frame([("Content-Length", "5000")], status: status, method: .HEAD, client: client)
            #expect(outcome.framing == .noBody)
            #expect(outcome.headers["content-length"] == ["5000"])
            #expect(!outcome.headers.contains(name: "transfer-encoding"))
        }
    }

    @Test("HEAD responses without Content-Length get no Transfer-Encoding", arguments: [HTTPVersion.http1_1, .http1_0])
    func headWithoutLength(client: HTTPVersion) {
        let outcome = Self.frame([("Content-Type", "text/html")], method: .HEAD, client: client)
        #expect(outcome.framing == .noBody)
        #expect(outcome.headers.map(\.name) == ["Content-Type"])
    }

    @Test(
        "Content-Length delimits the body for either client version and any other status",
        arguments: [HTTPResponseStatus.ok, .created, .notFound, .badGateway, .custom(code: 299, reasonPhrase: "X")]
    )
    func contentLength(status: HTTPResponseStatus) {
        for client in [HTTPVersion.http1_1, .http1_0] {
            for method in [HTTPMethod.GET, .POST] {
                let outcome = Self.frame([("content-length", "42")], status: status, method: method, client: client)
                #expect(outcome.framing == .contentLength)
                #expect(outcome.headers["content-length"] == ["42"])
                #expect(!outcome.headers.contains(name: "transfer-encoding"))
            }
        }
    }

    @Test("Content-Length: 0 is still a length", arguments: [HTTPVersion.http1_1, .http1_0])
    func zeroLength(client: HTTPVersion) {
        let outcome = Self.frame([("Content-Length", "0")], status: .ok, client: client)
        #expect(outcome.framing == .contentLength)
        #expect(outcome.headers["content-length"] == ["0"])
    }

    @Test(
        "HTTP/1.1 clients get chunked when the length is unknown, and the header is added",
        arguments: [HTTPResponseStatus.ok, .notFound, .badGateway]
    )
    func chunkedForHTTP11(status: HTTPResponseStatus) {
        let outcome = Self.frame(
            [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")], status: status)
        #expect(outcome.framing == .chunked)
        #expect(outcome.headers.map(\.name) == ["Content-Type", "Cache-Control", "Transfer-Encoding"])
        #expect(outcome.headers["transfer-encoding"] == ["chunked"])
    }

    @Test("A newer HTTP/1.x minor version is treated like 1.1")
    func chunkedForLaterMinorVersion() {
        let outcome = Self.frame([], client: HTTPVersion(major: 1, minor: 2))
        #expect(outcome.framing == .chunked)
        #expect(outcome.headers["transfer-encoding"] == ["chunked"])
    }

    @Test(
        "HTTP/1.0 clients without a length get the body until close and no Transfer-Encoding",
        arguments: [HTTPMethod.GET, .POST])
    func untilCloseForHTTP10(method: HTTPMethod) {
        let outcome = Self.frame([("Content-Type", "text/event-stream")], method: method, client: .http1_0)
        #expect(outcome.framing == .untilClose)
        #expect(outcome.headers.map(\.name) == ["Content-Type"])
        #expect(!outcome.headers.contains(name: "transfer-encoding"))
    }
}
