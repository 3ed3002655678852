import Testing

@testable import SSERelayCore

@Suite("RequestTarget")
struct RequestTargetTests {
    @Test(
        "The path is normalised: unreserved escapes decoded, others upper-cased, slashes merged, dot segments removed",
        arguments: [
            // Already normal.
            ("/", "/"),
            ("/api/conversation/X/stream", "/api/conversation/X/stream"),
            ("/a/", "/a/"),
            ("/.well-known/x", "/.well-known/x"),
            ("/a./b..", "/a./b.."),
            // Dot segments (RFC 3986 §5.2.4), `..` above the root staying at the root.
            ("/api/conversation/X/../X/stream", "/api/conversation/X/stream"),
            ("/api/conversation/../conversation/X/stream", "/api/conversation/X/stream"),
            ("/a/./b", "/a/b"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/..", "/"),
            ("/../../a", "/a"),
            ("/.", "/"),
            ("/a/../", "/"),
            ("/a/b/c/./../../g", "/a/g"),
            // Runs of slashes merged first, as nginx does.
            ("//api/conversation/X/stream", "/api/conversation/X/stream"),
            ("/api///conversation//X/stream//", "/api/conversation/X/stream/"),
            ("/a//../b", "/b"),
            // Percent-encodings.
            ("/api/conversation/%58/stream", "/api/conversation/X/stream"),
            ("/api/conversation/%78%2d%5F%7e%30/stream", "/api/conversation/x-_~0/stream"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb", "/a%2Fb"),
            ("/%e2%82%ac", "/%E2%82%AC"),
            ("/a%20b", "/a%20b"),
            ("/%25", "/%25"),
            ("/%2541", "/%2541"),
            // Invalid escapes stay as they are.
            ("/%", "/%"),
            ("/%4", "/%4"),
            ("/%zz/%4g", "/%zz/%4g"),
            ("/a%", "/a%"),
            // Decoding never completes a stray escape, so a second pass changes nothing.
            ("/%4%31", "/%4%31"),
            ("/%%34%31", "/%%341"),
            ("/%%2e", "/%."),
            // Escaped dots are dots.
            ("/api/conversation/X/%2E%2E/X/stream", "/api/conversation/X/stream"),
            ("/api/conversation/X/%2e./X/stream", "/api/conversation/X/stream"),
            ("/a/%2E/b", "/a/b"),
            // Not origin-form: kept.
            ("*", "*"),
            ("", ""),
            ("api/../x", "api/../x"),
        ])
    func path(target: String, expected: String) {
        #expect(RequestTarget(normalizing: target).path == expected)
    }

    @Test(
        "The query is kept as sent for upstream and sorted by name for the key",
        arguments: [
            ("/p", nil, ""),
            ("/p?", "", ""),
            ("/p?a=1", "a=1", "a=1"),
            ("/p?b=2&a=1", "b=2&a=1", "a=1&b=2"),
            ("/p?a=1&b=2", "a=1&b=2", "a=1&b=2"),
            // In order already, one name twice: kept as sent.
            ("/p?a=2&a=1&b", "a=2&a=1&b", "a=2&a=1&b"),
            // Stable: parameters of one name keep their order.
            ("/p?tag=b&x=1&tag=a", "tag=b&x=1&tag=a", "tag=b&tag=a&x=1"),
            // Bytewise: upper case before lower case, a name before its extensions.
            ("/p?b=1&B=2&a=3&ab=4&a=5", "b=1&B=2&a=3&ab=4&a=5", "B=2&a=3&a=5&ab=4&b=1"),
            // Empty parameters dropped; escapes normalised; a flag without `=`.
            ("/p?b=2&&a=1&", "b=2&&a=1&", "a=1&b=2"),
            ("/p?%62=%7e&a=%2f", "%62=%7e&a=%2f", "a=%2F&b=~"),
            ("/p?z&a", "z&a", "a&z"),
            // A second `?` is part of the query.
            ("/p?a=1?b", "a=1?b", "a=1?b"),
        ] as [(String, String?, String)])
    func query(target: String, sent: String?, canonical: String) {
        let normalized = RequestTarget(normalizing: target)
        #expect(normalized.query.map(String.init) == sent)
        #expect(normalized.canonicalQuery == canonical)
    }

    @Test("The canonical query of every short query is its parameters without empty ones, stably sorted by name")
    func canonicalQueryModel() {
        // Names that sort every way bytewise (upper case first, a name before its extension,
        // one name twice) and every shape of parameter: a value, an empty value, a flag.
        let parameters = ["", "a=1", "a=0", "a", "b=", "B=2", "ab=3", "b=x=y"]
        for first in parameters {
            for second in parameters {
                for third in parameters {
                    let query = [first, second, third].joined(separator: "&")
                    let kept = [first, second, third].filter { !$0.isEmpty }
                    let name = { (parameter: String) in Array(parameter.utf8.prefix { $0 != UInt8(ascii: "=") }) }
                    let sorted = kept.enumerated().sorted { left, right in
                        let (leftName, rightName) = (name(left.element), name(right.element))
                        return leftName.lexicographicallyPrecedes(rightName)
                            || (leftName == rightName && left.offset < right.offset)
                    }
                    let expected = sorted.map { $0.element }.joined(separator: "&")
                    #expect(RequestTarget(normalizing: "/p?" + query).canonicalQuery == expected, "\(query)")
                }
            }
        }
    }

    @Test("The upstream target is the normalised path with the query as sent")
    func upstreamTarget() {
        #expect(RequestTarget(normalizing: "//a/./b/../c?z=1&a=2").upstreamTarget == "/a/c?z=1&a=2")
        #expect(RequestTarget(normalizing: "/a/%58").upstreamTarget == "/a/X")
        #expect(RequestTarget(normalizing: "/a?").upstreamTarget == "/a?")
    }

    /// Every target built from these pieces, up to four segments long.
    private static let pieces = [
        "a", "X", ".", "..", "", "%2E", "%2e%2E", "%58", "%2f", "%zz", "%", "b%7E", "%41%42", "..a", ".b", "%4", "%%34",
        "%4%31",
    ]

    private static var generatedTargets: [String] {
        var targets: [String] = []
        for first in pieces {
            for second in pieces {
                for third in ["", "..", "%2E", "c"] {
                    targets.append("/\(first)/\(second)/\(third)")
                    targets.append("/\(first)//\(second)/\(third)?b=\(second)&a=\(first)")
                }
            }
        }
        return targets
    }

    @Test("Normalising twice is normalising once")
    func idempotent() {
        for target in Self.generatedTargets {
            let once = RequestTarget(normalizing: target)
            let twice = RequestTarget(normalizing: once.upstreamTarget)
            #expect(twice.path == once.path, "\(target)")
            #expect(twice.canonicalQuery == once.canonicalQuery, "\(target)")
            #expect(
                RequestTarget(normalizing: once.path + "?" + once.canonicalQuery).canonicalQuery == once.canonicalQuery)
        }
    }

    @Test("A normal path has no dot segment, no empty segment but a trailing one, and no lowercase escape")
    func normalForm() {
        for target in Self.generatedTargets {
            let path = RequestTarget(normalizing: target).path
            let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            #expect(path.hasPrefix("/"), "\(target)")
            #expect(!segments.contains("."), "\(target) → \(path)")
            #expect(!segments.contains(".."), "\(target) → \(path)")
            #expect(!segments.dropLast().contains(""), "\(target) → \(path)")
            #expect(!path.contains("%2E") && !path.contains("%58") && !path.contains("%2f"), "\(target) → \(path)")
        }
    }

    @Test("Routes match already-normal targets exactly as before")
    func routesUnaffected() throws {
        let route = try RoutePattern(parsing: "/t/:tenant/c/:conversation/stream")
        for target in [
            "/t/acme/c/42/stream", "/t/a-b_c~d/c/%2F/stream", "/t/x/c/y/stream?q=1", "/t/x/c/y/stream/",
            "/t/x/c/y", "/t/%E2%82%AC/c/.x/stream", "/", "/t/x/c/y/other",
        ] {
            let path = target.split(separator: "?", maxSplits: 1)[0]
            let normal = RequestTarget(normalizing: target).path
            #expect(normal == path, "\(target)")
            let before = route.match(path: path)?.map { "\($0.name)=\($0.value)" }
            let after = route.match(path: normal[...])?.map { "\($0.name)=\($0.value)" }
            #expect(before == after, "\(target)")
        }
    }
}
