import Foundation

/// What the fixture's `/echo` saw.
struct EchoSeen: Decodable {
    var method: String
    var url: String
    var headers: [String: String]
    var rawHeaders: [String]
    var bodyBytes: Int
    var bodySha256: String

    /// Decodes the JSON body of a raw HTTP/1.1 response (head, then a Content-Length body).
    init(rawResponse: String) throws {
        guard let start = rawResponse.range(of: "\r\n\r\n") else {
            throw FixtureError("no response head in \(rawResponse.prefix(200).debugDescription)")
        }
        self = try JSONDecoder().decode(EchoSeen.self, from: Data(rawResponse[start.upperBound...].utf8))
    }
}
