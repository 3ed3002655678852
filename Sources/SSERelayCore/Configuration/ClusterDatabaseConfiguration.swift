/// `cluster.database`: the PostgreSQL connection, given as `url` or as parts (`host`, `port`,
/// `user`, `database`), not both. The password is never part of the file: it is read from
/// `passwordFile` or from the environment variable `passwordEnv`, and it is never logged.
///
/// `cluster.database.url` (string, instead of the parts):
/// `postgres://USER@HOST[:PORT][/DATABASE][?sslmode=MODE]`, or `postgresql://…`, read by
/// ``ClusterDatabaseURL``: an IPv6 host in brackets, the user and the database
/// percent-encoded where they need it, `sslmode` (`disable`, `prefer` or `require`) for ``tls``.
/// A URL with a password is refused, and no message quotes the URL. It is taken apart when it
/// is read, so both spellings give the same value and the server connects from the parts alone.
public struct ClusterDatabaseConfiguration: Sendable, Hashable {
    /// `cluster.database.host` (string, required unless `url` is given): the server's host
    /// name or IP address (an IPv6 address without brackets).
    public var host: String
    /// `cluster.database.port` (integer 1–65535, default 5432).
    public var port = ClusterDatabaseConfiguration.defaultPort
    /// `cluster.database.user` (string, required unless `url` names one).
    public var user: String
    /// `cluster.database.database` (string, default: the user name, as `psql` does).
    public var database: String
    /// `cluster.database.passwordFile` (string or `null`, default `null`): a file whose content,
    /// without a trailing newline, is the password.
    public var passwordFile: String?
    /// `cluster.database.passwordEnv` (string or `null`, default `null`): the name of an
    /// environment variable that holds the password (letters, digits and `_`, not starting with
    /// a digit). At most one of the two may be set; with neither, the relay connects without a
    /// password (`trust` or another method that needs none).
    public var passwordEnvironment: String?
    /// `cluster.database.tls` (`"disable"`, `"prefer"` or `"require"`, default `"prefer"`):
    /// whether the connection uses TLS, verified against the system trust store. A `url` may
    /// say it as `?sslmode=`; then this key must be left out.
    public var tls: TLSMode = .prefer
    /// `cluster.database.table` (string, default `"sse_relay_directory"`): the directory's
    /// table, created at start if missing. A lowercase SQL identifier (`a`–`z`, `0`–`9` and
    /// `_`, not starting with a digit, at most 63 bytes) that is not a reserved word, so that it
    /// can go into a statement as it is, quoted or not.
    public var table = ClusterDatabaseConfiguration.defaultTable

    /// The table ``table`` names when the key is absent.
    public static let defaultTable = "sse_relay_directory"

    /// The port ``port`` holds when neither the key nor the URL names one.
    public static let defaultPort = 5432

    /// Whether the database connection uses TLS: libpq's `sslmode` values of the same names.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Never: the connection is plain TCP.
        case disable
        /// TLS when the server offers it, plain TCP when it does not.
        case prefer
        /// TLS or no connection.
        case require
    }

    public init(host: String, user: String, database: String? = nil) {
        self.host = host
        self.user = user
        self.database = database ?? user
    }
}

extension ClusterDatabaseConfiguration {
    /// The keys that say what ``ClusterDatabaseURL`` says, so that a file gives one or the other.
    private static let partKeys = ["host", "port", "user", "database"]

    /// What `url` or the part keys said; `nil` where a required part is missing or bad.
    private typealias Connection = (host: String?, port: Int, user: String?, database: String?, tls: TLSMode?)

    /// Reads `cluster.database`; `nil` when the host or the user is missing or bad (reported).
    init?(reading reader: inout ConfigurationObjectReader) {
        let parts: Connection
        if reader.value("url") != nil {
            parts = Self.readURL(&reader)
        } else {
            parts = Self.readParts(&reader)
        }
        let passwordFile = reader.optionalString("passwordFile", default: nil)
        if passwordFile?.isEmpty == true {
            reader.report("passwordFile", "expected a path to a file, got an empty string")
        }
        let passwordEnvironment: String?
        switch reader.value("passwordEnv") {
        case nil, .null?:
            passwordEnvironment = nil
        case .string?:
            passwordEnvironment = reader.parsed("passwordEnv", default: nil) { text throws(ConfigurationValueError) in
                try Self.validateEnvironmentName(text)
            }
        case let value?:
            passwordEnvironment = nil
            reader.report("passwordEnv", "expected a string or null, got \(value.summary)")
        }
        if passwordFile != nil, passwordEnvironment != nil {
            reader.report(
                "passwordEnv",
                "give either cluster.database.passwordFile or cluster.database.passwordEnv, not both")
        }
        if parts.tls != nil, reader.value("tls") != nil {
            reader.report(
                "tls",
                "give the TLS mode either as ?sslmode= in cluster.database.url or as cluster.database.tls, not both")
        }
        let tls = parts.tls ?? reader.choice("tls", default: TLSMode.prefer)
        let table = reader.parsed("table", default: Self.defaultTable, Self.validateTable)
        guard let host = parts.host, let user = parts.user else { return nil }
        self.init(host: host, user: user, database: parts.database)
        self.port = parts.port
        self.passwordFile = passwordFile?.isEmpty == true ? nil : passwordFile
        self.passwordEnvironment = passwordEnvironment
        self.tls = tls
        self.table = table
    }

    /// Reads `url`, and reports each part key given beside it.
    private static func readURL(_ reader: inout ConfigurationObjectReader) -> Connection {
        for key in Self.partKeys where reader.value(key) != nil {
            reader.report(key, "give either cluster.database.url or cluster.database.\(key), not both")
        }
        // Not `parsed`: its message quotes the value, and a URL may hold a password. The messages
        // of ``ClusterDatabaseURL`` name the part that is wrong without quoting it.
        switch reader.value("url") {
        case .string(let text)?:
            do {
                let url = try ClusterDatabaseURL(parsing: text)
                return (url.host, url.port, url.user, url.database, url.tls)
            } catch {
                reader.report("url", error.message)
            }
        case let value?:
            reader.report("url", "expected a string, got \(value.summary)")
        case nil:
            break
        }
        return (nil, Self.defaultPort, nil, nil, nil)
    }

    /// Reads `host`, `port`, `user` and `database`, and reports a missing host or user.
    private static func readParts(_ reader: inout ConfigurationObjectReader) -> Connection {
        let host: String?
        if case .string(let text)? = reader.value("host"), text.contains("://") {
            host = nil
            reader.report("host", ClusterDatabaseURL.misplacedMessage(expected: "expected a host name or IP address"))
        } else {
            host = reader.parsed("host", default: String?.none, Self.validateHost)
        }
        if reader.value("host") == nil {
            reader.report(
                "host", "required: the PostgreSQL server's host name or IP address (or give cluster.database.url)")
        }
        let port = reader.integer("port", default: Self.defaultPort, in: 1...65535)
        let user = reader.parsed("user", default: String?.none) { text throws(ConfigurationValueError) in
            try Self.validateName(text, of: "user")
        }
        if reader.value("user") == nil {
            reader.report("user", "required: the PostgreSQL user the relay connects as (or give cluster.database.url)")
        }
        let database = reader.parsed("database", default: String?.none) { text throws(ConfigurationValueError) in
            try Self.validateName(text, of: "database")
        }
        return (host, port, user, database, nil)
    }
}

extension ClusterDatabaseConfiguration {
    /// Checks a host name or an IP address as `host` and the URL's host take it: not empty, no
    /// spaces or URL punctuation, and a `:` only in an IPv6 address (so that `db:5432` is not
    /// taken for a host).
    static func validateHost(_ host: String) throws(ConfigurationValueError) -> String {
        let forbidden = Set("/@?#[],%\\\"'")
        guard !host.isEmpty,
            host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }),
            !host.contains(where: { forbidden.contains($0) })
        else {
            throw ConfigurationValueError("expected a host name or IP address (an IPv6 address without brackets)")
        }
        if host.contains(":") {
            let ipv6 = Set("0123456789abcdefABCDEF:.")
            guard host.filter({ $0 == ":" }).count >= 2, host.allSatisfy({ ipv6.contains($0) }) else {
                throw ConfigurationValueError("expected a host name or IP address, without a port")
            }
        }
        return host
    }

    /// Checks a user or database name: not empty, no control characters. PostgreSQL sends both
    /// as NUL-terminated strings at connection start, so a NUL could not even be sent.
    static func validateName(_ name: String, of kind: String) throws(ConfigurationValueError) -> String {
        guard !name.isEmpty else { throw ConfigurationValueError("expected a \(kind) name, not an empty string") }
        guard name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw ConfigurationValueError("expected a \(kind) name without control characters")
        }
        return name
    }

    /// Checks an environment variable name: `[A-Za-z_][A-Za-z0-9_]*`, what a shell can export.
    static func validateEnvironmentName(_ name: String) throws(ConfigurationValueError) -> String {
        guard let first = name.utf8.first, !Self.isDigit(first),
            name.utf8.allSatisfy({ Self.isLetter($0) || Self.isDigit($0) || $0 == UInt8(ascii: "_") })
        else {
            throw ConfigurationValueError(
                "expected an environment variable name (letters, digits and _, not starting with a digit)")
        }
        return name
    }

    /// Checks a table name: `[a-z_][a-z0-9_]*`, at most 63 bytes (PostgreSQL's `NAMEDATALEN`
    /// less one; a longer name would be cut silently), and not a reserved word. Such a name
    /// goes into a statement as it is, and means the same table quoted or not (PostgreSQL folds
    /// unquoted names to lowercase).
    static func validateTable(_ table: String) throws(ConfigurationValueError) -> String {
        let isLower = { (byte: UInt8) in byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
        guard let first = table.utf8.first, !Self.isDigit(first), table.utf8.count <= 63,
            table.utf8.allSatisfy({ isLower($0) || Self.isDigit($0) || $0 == UInt8(ascii: "_") })
        else {
            throw ConfigurationValueError(
                "expected a lowercase SQL identifier (a-z, 0-9 and _, not starting with a digit, at most 63 bytes)")
        }
        guard !Self.reservedWords.contains(table) else {
            throw ConfigurationValueError("expected a table name that is not a reserved word of PostgreSQL's SQL")
        }
        return table
    }

    /// The key words PostgreSQL (15 to 17) marks "reserved" or "reserved (can be function or type)":
    /// neither may name a table unless quoted, so `"table": "user"` would make every statement
    /// a syntax error at start.
    private static let reservedWords: Set<String> = [
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary",
        "both", "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint", "create",
        "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
        "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end",
        "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike",
        "in", "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left", "like",
        "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or",
        "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
        "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then", "to",
        "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window",
        "with",
    ]

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
}
