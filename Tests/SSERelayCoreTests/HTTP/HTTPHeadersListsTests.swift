import NIOHTTP1
import Testing

@testable import SSERelayCore

/// The list helpers answer what NIO's `canonicalForm` subscript answers, without its copies.
@Suite("HTTPHeaders lists")
struct HTTPHeadersListsTests {
    static let cases: [HTTPHeaders] = [
        [:],
        ["Connection": "close"],
        ["connection": "Keep-Alive, CLOSE"],
        ["Connection": "keep-alive", "CONNECTION": " close "],
        ["Connection": "closed", "X-Connection": "close"],
        ["Connection": ",,", "Transfer-Encoding": "gzip"],
        ["Transfer-Encoding": "gzip, chunked"],
        ["transfer-encoding": "chunked", "Transfer-Encoding": "gzip"],
        ["Transfer-Encoding": "gzip", "TRANSFER-ENCODING": "chunked "],
        ["Transfer-Encoding": "Chunked"],
        ["Transfer-Encoding": ""],
    ]

    @Test("list(_:contains:) answers as canonicalForm and lowercased compares do", arguments: cases)
    func listContains(headers: HTTPHeaders) {
        let expected = headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        #expect(headers.list("connection", contains: "close") == expected)
        let chunked = headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() == "chunked" }
        #expect(headers.list("transfer-encoding", contains: "chunked") == chunked)
    }

    @Test("lastListElement(_:) is canonicalForm's last element", arguments: cases)
    func lastElement(headers: HTTPHeaders) {
        #expect(headers.lastListElement("transfer-encoding") == headers[canonicalForm: "transfer-encoding"].last)
    }
}
