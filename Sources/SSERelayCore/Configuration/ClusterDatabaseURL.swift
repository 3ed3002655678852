/// `cluster.database.url` taken apart: `postgres://USER@HOST[:PORT][/DATABASE][?sslmode=MODE]`
/// or `postgresql://…`, the part of libpq's connection URIs that names one server, a user and no
/// password.
///
/// The user and the database are percent-decoded (`%40` for an `@`); the host is an IPv6 address
/// in brackets (`[::1]`) or a name or IPv4 address as it is. `sslmode` is the only query
/// parameter, and only its values `disable`, `prefer` and `require`, which
/// ``ClusterDatabaseConfiguration/TLSMode`` also has.
///
/// No message quotes the URL or a part of it. A URL that is wrong in one place may hold a
/// password in another (`postgres://relay:pa/ss@db`, where the `/` ends the host early), and
/// configuration errors are printed and logged; a message names the part that is wrong instead.
/// A password is looked for before anything else, so such a URL gets the message that says what
/// to do with the password.
struct ClusterDatabaseURL: Sendable, Hashable {
    var host: String
    /// The URL's port, or 5432.
    var port: Int
    var user: String
    /// The database the URL names, or `nil` when it names none (then the user's name is used).
    var database: String?
    /// The URL's `sslmode`, or `nil` when it has none (then `cluster.database.tls` says).
    var tls: ClusterDatabaseConfiguration.TLSMode?

    private static let example = "postgres://relay@db.internal:5432/relay"

    /// What a URL with a password is told. It quotes neither the URL nor the password.
    static let passwordMessage =
        "must not contain a password: leave it out of the URL and give it in cluster.database.passwordFile "
        + "or cluster.database.passwordEnv"

    /// What a string that may be a URL is told where it does not belong (`"cluster": "postgres://…"`,
    /// or a URL as `cluster.database.host`): the usual message would quote it, password and all.
    static func misplacedMessage(expected: String) -> String {
        "\(expected), got a string (not repeated here, as it may hold a password): give a postgres:// URL "
            + "as cluster.database.url"
    }

    init(parsing text: String) throws(ConfigurationValueError) {
        guard let separator = text.firstRange(of: "://"),
            ["postgres", "postgresql"].contains(text[..<separator.lowerBound].lowercased())
        else {
            throw ConfigurationValueError("expected a postgres:// or postgresql:// URL such as \(Self.example)")
        }
        let afterScheme = text[separator.upperBound...]
        // The authority runs to the first `/`, `?` or `#`, and its user information to the last
        // `@` in it, as WHATWG's URL parser reads it: an `@` in a password still leaves the
        // password in the user information.
        let authorityEnd =
            afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        var rest = afterScheme[authorityEnd...]
        let fragment = rest.firstIndex(of: "#")
        if let fragment { rest = rest[..<fragment] }
        var query: Substring = ""
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        let parameters = query.split(separator: "&" as Character).map { (parameter: Substring) in
            let equals = parameter.firstIndex(of: "=") ?? parameter.endIndex
            return (name: parameter[..<equals], value: parameter[equals...].dropFirst())
        }
        let at = authority.lastIndex(of: "@")

        // A password, wherever it is: in the user information; before an `@` past the end of
        // the authority, when a `/`, `?` or `#` in the password ended it early (then the URL has
        // no user there, so it would be refused anyway); or as libpq's `password` parameter.
        if let at, authority[..<at].contains(":") { throw ConfigurationValueError(Self.passwordMessage) }
        if at == nil, let laterAt = afterScheme.firstIndex(of: "@"), afterScheme[..<laterAt].contains(":") {
            throw ConfigurationValueError(Self.passwordMessage)
        }
        if parameters.contains(where: { $0.name == "password" }) { throw ConfigurationValueError(Self.passwordMessage) }

        guard fragment == nil else { throw ConfigurationValueError("expected no fragment (#) in the URL") }
        guard let at, at != authority.startIndex else {
            throw ConfigurationValueError("expected a user before the host, as in \(Self.example)")
        }
        self.user = try ClusterDatabaseConfiguration.validateName(
            try Self.percentDecoded(authority[..<at], "user"), of: "user")
        (self.host, self.port) = try Self.hostAndPort(authority[authority.index(after: at)...])
        self.database = try Self.database(path: rest)
        self.tls = try Self.tls(parameters)
    }

    /// `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT`.
    private static func hostAndPort(_ text: Substring) throws(ConfigurationValueError) -> (String, Int) {
        let host: Substring
        let portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ConfigurationValueError("expected a ] after the IPv6 address of the host")
            }
            host = text[text.index(after: text.startIndex)..<close]
            guard host.contains(":") else {
                throw ConfigurationValueError("expected only an IPv6 address in brackets, such as [::1]")
            }
            let afterClose = text[text.index(after: close)...]
            guard afterClose.isEmpty || afterClose.hasPrefix(":") else {
                throw ConfigurationValueError("expected :PORT or nothing after the ] of the host")
            }
            portText = afterClose.isEmpty ? nil : afterClose.dropFirst()
        } else {
            let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else {
                throw ConfigurationValueError(
                    "expected an IPv6 host in brackets, as in postgres://relay@[2001:db8::5]:5432/relay")
            }
            host = pieces[0]
            portText = pieces.count == 2 ? pieces[1] : nil
        }
        guard !host.isEmpty else {
            throw ConfigurationValueError("expected a host after the user, as in \(Self.example)")
        }
        do {
            _ = try ClusterDatabaseConfiguration.validateHost(String(host))
        } catch {
            throw ConfigurationValueError(
                "expected a host name or IP address after the user (an IPv6 address in brackets)")
        }
        guard let portText else { return (String(host), ClusterDatabaseConfiguration.defaultPort) }
        // Digits only: `Int(_:)` alone would take a sign.
        guard portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let port = Int(portText), (1...65535).contains(port)
        else {
            throw ConfigurationValueError("expected a port from 1 to 65535 after the host")
        }
        return (String(host), port)
    }

    /// The database of a path `/DATABASE`; `nil` for no path or `/` alone.
    private static func database(path: Substring) throws(ConfigurationValueError) -> String? {
        let name = path.dropFirst()
        guard !name.isEmpty else { return nil }
        guard !name.contains("/") else {
            throw ConfigurationValueError("expected only a database name after the host, no further path")
        }
        return try ClusterDatabaseConfiguration.validateName(try Self.percentDecoded(name, "database"), of: "database")
    }

    /// The mode of the one `sslmode` parameter, `nil` without one; any other parameter is refused.
    private static func tls(
        _ parameters: [(name: Substring, value: Substring)]
    ) throws(ConfigurationValueError) -> ClusterDatabaseConfiguration.TLSMode? {
        var mode: ClusterDatabaseConfiguration.TLSMode?
        for parameter in parameters {
            guard parameter.name == "sslmode" else {
                // A name is quoted only when it looks like one of libpq's (`connect_timeout`), so
                // that nothing a user pasted by mistake is printed.
                let name = parameter.name
                let isPlain =
                    !name.isEmpty && name.utf8.count <= 32
                    && name.utf8.allSatisfy {
                        ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_")
                    }
                throw ConfigurationValueError(
                    "expected no query parameter but sslmode\(isPlain ? ", got \"\(name)\"" : "")")
            }
            guard mode == nil else { throw ConfigurationValueError("expected sslmode only once") }
            guard let parsed = ClusterDatabaseConfiguration.TLSMode(rawValue: String(parameter.value)) else {
                throw ConfigurationValueError("expected sslmode=disable, sslmode=prefer or sslmode=require")
            }
            mode = parsed
        }
        return mode
    }

    /// `text` with every `%XX` replaced by its byte, read as UTF-8.
    private static func percentDecoded(_ text: Substring, _ part: String) throws(ConfigurationValueError) -> String {
        let utf8 = Array(text.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            guard utf8[index] == UInt8(ascii: "%") else {
                bytes.append(utf8[index])
                index += 1
                continue
            }
            guard index + 2 < utf8.count, let high = Self.hexValue(utf8[index + 1]),
                let low = Self.hexValue(utf8[index + 2])
            else {
                throw ConfigurationValueError("expected two hex digits after every % in the \(part)")
            }
            bytes.append(high << 4 | low)
            index += 3
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationValueError("expected the \(part) to be UTF-8 once its %XX are decoded")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
