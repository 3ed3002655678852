import FuzzSupport
import SSERelayCore

/// `cluster` as the file that would produce it (README's configuration table), in each of its
/// spellings: no key or `null` for no cluster; the database as `url` (`postgres://` or
/// `postgresql://`, the default port and database written out or left out, the TLS mode as
/// `?sslmode=` or as `tls`) or as parts; `null` or no key for a password source or an advertised
/// address that is not set; the default table written out or left out.
extension ConfigurationEncoder {
    static func cluster(_ cluster: ClusterConfiguration?, choosing choices: inout SplitMix64) -> JSONText? {
        guard let cluster else { return Bool.random(using: &choices) ? nil : .null }
        var peer: [String: JSONText] = [
            "listen": .string(cluster.peer.listen.description),
            "secretFile": .string(cluster.peer.secretFile),
        ]
        if let advertise = cluster.peer.advertise {
            peer["advertise"] = .string(advertise.description)
        } else if Bool.random(using: &choices) {
            peer["advertise"] = .null
        }
        return .object([
            "database": self.database(cluster.database, choosing: &choices),
            "peer": .object(peer),
            "leaseSeconds": .number(cluster.leaseSeconds),
            "renewIntervalSeconds": .number(cluster.renewIntervalSeconds),
            "directoryTimeoutSeconds": .number(cluster.directoryTimeoutSeconds),
        ])
    }

    private static func database(
        _ database: ClusterDatabaseConfiguration, choosing choices: inout SplitMix64
    ) -> JSONText {
        var fields: [String: JSONText] = [:]
        if let passwordFile = database.passwordFile {
            fields["passwordFile"] = .string(passwordFile)
        } else if Bool.random(using: &choices) {
            fields["passwordFile"] = .null
        }
        if let passwordEnvironment = database.passwordEnvironment {
            fields["passwordEnv"] = .string(passwordEnvironment)
        } else if Bool.random(using: &choices) {
            fields["passwordEnv"] = .null
        }
        if database.table != ClusterDatabaseConfiguration.defaultTable || Bool.random(using: &choices) {
            fields["table"] = .string(database.table)
        }
        let writesPort = database.port != 5432 || Bool.random(using: &choices)
        let writesDatabase = database.database != database.user || Bool.random(using: &choices)
        let writesTLS = database.tls != .prefer || Bool.random(using: &choices)
        guard Bool.random(using: &choices) else {
            fields["host"] = .string(database.host)
            fields["user"] = .string(database.user)
            if writesPort { fields["port"] = .integer(database.port) }
            if writesDatabase { fields["database"] = .string(database.database) }
            if writesTLS { fields["tls"] = .string(database.tls.rawValue) }
            return .object(fields)
        }
        let host = database.host.contains(":") ? "[\(database.host)]" : database.host
        var url = "\(Bool.random(using: &choices) ? "postgres" : "postgresql")://"
        url += "\(self.percentEncoded(database.user))@\(host)"
        if writesPort { url += ":\(database.port)" }
        if writesDatabase { url += "/\(self.percentEncoded(database.database))" }
        if writesTLS {
            if Bool.random(using: &choices) {
                url += "?sslmode=\(database.tls.rawValue)"
            } else {
                fields["tls"] = .string(database.tls.rawValue)
            }
        }
        fields["url"] = .string(url)
        return .object(fields)
    }

    /// Every byte but RFC 3986's unreserved ones as `%XX`, so that any user or database name
    /// survives in a URL.
    private static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || "-._~".unicodeScalars.contains(scalar)
            {
                encoded.unicodeScalars.append(scalar)
            } else {
                encoded +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return encoded
    }
}
