import Crypto
public import NIOHTTP1

/// What decides whether two stream requests share an upstream (SPEC §2): the route, its
/// captured parameters, the query string (unless `keyIncludesQuery` is off) and a SHA-256
/// digest of the values of the route's `varyHeaders`.
///
/// Users with different credentials therefore never share a stream, and a response's CORS
/// headers always match the origin that asked. The digest keeps the credentials themselves out
/// of the key, which is shown in `/streams` and logs.
public struct StreamKey: Sendable, Hashable, CustomStringConvertible {
    /// The route pattern, as configured.
    public var route: String
    /// The captured parameters, in pattern order.
    public var parameters: [Parameter]
    /// The query string without `?`, or empty.
    public var query: String
    /// Hex SHA-256 of the vary headers' names and values.
    public var varyDigest: String

    /// One captured route parameter.
    public struct Parameter: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public init(route: String, parameters: [Parameter], query: String, varyDigest: String) {
        self.route = route
        self.parameters = parameters
        self.query = query
        self.varyDigest = varyDigest
    }

    /// The key of a request to `route`, or `nil` when its path does not match the route.
    public init?(route: StreamRouteConfiguration, target: String, headers: HTTPHeaders) {
        let queryStart = target.firstIndex(of: "?")
        let path = target[..<(queryStart ?? target.endIndex)]
        guard let captures = route.path.match(path: path) else { return nil }
        self.route = route.path.description
        self.parameters = captures.map { Parameter(name: $0.name, value: $0.value) }
        self.query = route.keyIncludesQuery ? queryStart.map { String(target[target.index(after: $0)...]) } ?? "" : ""
        self.varyDigest = Self.digest(of: route.varyHeaders, in: headers)
    }

    /// SHA-256 over each vary header's name and raw values (as sent: an empty value is not an
    /// absent one, and `a,b` is not `a, b`), every piece length-prefixed so that no two
    /// different sets of values produce the same input.
    static func digest(of names: [String], in headers: HTTPHeaders) -> String {
        var hasher = SHA256()
        for name in names {
            let values = headers[name]
            hasher.update(data: Array("\(name.utf8.count):\(name)\(values.count);".utf8))
            for value in values {
                hasher.update(data: Array("\(value.utf8.count):".utf8))
                hasher.update(data: Array(value.utf8))
            }
        }
        return hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    public var description: String {
        let parameters = self.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
        return "\(self.route)[\(parameters)]?\(self.query)#\(self.varyDigest.prefix(12))"
    }
}
