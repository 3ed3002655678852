import FuzzSupport
import NIOHTTP1
import SSERelayCore

/// Checks stream routing (``RoutePattern``, ``StreamKey``) against the target as the backend
/// reads it: bytes, with `/` separating segments and the first `?` starting the query.
///
/// Invariants:
/// - `route-match`: ``RoutePattern/match(path:)`` matches exactly when the path's segments,
///   split on the byte `/`, are as many as the pattern's, each literal equal byte for byte and
///   each parameter non-empty; the captures are those segments.
/// - `stream-key`: a key exists exactly when the route matches the normalised path
///   (``RequestTarget``); it names the route, the captures of that path, the canonical query
///   (when the route keys on it) and a 64-digit lowercase hex digest that changes with the
///   value of a header that may carry identity and not with a per-request header an edge adds
///   (under the default rule), or with a listed header and not another (under `varyHeaders`).
/// - `route-pattern`: a target path that parses as a pattern matches a path built from it.
enum StreamKeyOracle {
    /// One captured parameter, comparable.
    struct Capture: Equatable {
        var name: String
        var value: String
    }

    static func check(_ head: HTTPRequestHead) {
        let target = Array(head.uri.utf8)
        let queryStart = target.firstIndex(of: UInt8(ascii: "?"))
        let path = target[..<(queryStart ?? target.endIndex)]
        let pathText = String(decoding: path, as: UTF8.self)

        for route in RelayRequestModel.routes {
            let expected = self.referenceMatch(route.path, path: path)
            let captures = route.path.match(path: pathText[...])?.map { Capture(name: $0.name, value: $0.value) }
            Oracle.check(
                captures == expected, "route-match",
                "\(route.path) on \(String(reflecting: pathText)): \(String(describing: captures)), expected \(String(describing: expected))"
            )
            self.checkKey(route: route, head: head)
        }

        if let pattern = try? RoutePattern(parsing: pathText) {
            var parameters: [String] = []
            let concrete = pattern.segments.map { segment in
                switch segment {
                case .literal(let literal):
                    return literal
                case .parameter(let name):
                    parameters.append(name)
                    return "v"
                }
            }
            let captures = pattern.match(path: ("/" + concrete.joined(separator: "/"))[...])
            Oracle.check(
                captures?.map(\.name) == parameters && captures?.allSatisfy({ $0.value == "v" }) == true,
                "route-pattern",
                "\(String(reflecting: pathText)) does not match its own shape: \(String(describing: captures))"
            )
        }
    }

    private static func checkKey(route: StreamRouteConfiguration, head: HTTPRequestHead) {
        let normalised = RequestTarget(normalizing: head.uri)
        let expected = self.referenceMatch(route.path, path: Array(normalised.path.utf8)[...])
        let key = StreamKey(route: route, target: head.uri, headers: head.headers)
        Oracle.check(
            (key != nil) == (expected != nil), "stream-key",
            "\(route.path) on \(String(reflecting: head.uri)) (normalised \(String(reflecting: normalised.path))): key \(String(describing: key)), captures \(String(describing: expected))"
        )
        guard let key, let expected else { return }
        let hexDigits = Set("0123456789abcdef".utf8)
        Oracle.check(
            key.route == route.path.description
                && key.parameters.map({ Capture(name: $0.name, value: $0.value) }) == expected
                && key.query == (route.keyIncludesQuery ? normalised.canonicalQuery : "")
                && key.varyDigest.utf8.count == 64 && key.varyDigest.utf8.allSatisfy(hexDigits.contains),
            "stream-key", "\(route.path) on \(String(reflecting: head.uri)): \(key)")
        Oracle.check(
            StreamKey(route: route, target: head.uri, headers: head.headers) == key, "stream-key",
            "\(route.path) on \(String(reflecting: head.uri)): two keys for one request")

        // A header outside the key, and one inside it.
        let (outside, inside) =
            route.varyHeaders.map { listed in ("x-not-listed-\(listed.count)", listed.first) }
            ?? ("x-request-id", "x-fuzz-identity")
        var otherHeaders = head.headers
        otherHeaders.add(name: outside, value: "1")
        Oracle.check(
            StreamKey(route: route, target: head.uri, headers: otherHeaders)?.varyDigest == key.varyDigest,
            "stream-key", "\(route.path): \(outside), outside the key, changes it")
        if let inside {
            var variedHeaders = head.headers
            variedHeaders.add(name: inside, value: "fuzz")
            Oracle.check(
                StreamKey(route: route, target: head.uri, headers: variedHeaders)?.varyDigest != key.varyDigest,
                "stream-key", "\(route.path): another \(inside) value keeps the key")
        }
    }

    /// The match as the backend's router would see it.
    static func referenceMatch(_ pattern: RoutePattern, path: ArraySlice<UInt8>) -> [Capture]? {
        guard path.first == UInt8(ascii: "/") else { return nil }
        let pieces = path.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard pieces.count == pattern.segments.count else { return nil }
        var captures: [Capture] = []
        for (piece, segment) in zip(pieces, pattern.segments) {
            switch segment {
            case .literal(let literal):
                guard piece.elementsEqual(literal.utf8) else { return nil }
            case .parameter(let name):
                guard !piece.isEmpty else { return nil }
                captures.append(Capture(name: name, value: String(decoding: piece, as: UTF8.self)))
            }
        }
        return captures
    }
}
