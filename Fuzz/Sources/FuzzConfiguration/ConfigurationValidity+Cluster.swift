import FuzzSupport
import SSERelayCore

/// The bounds README's configuration table promises for an accepted `cluster` section, written
/// out again rather than taken from the relay.
extension ConfigurationValidity {
    static func check(_ cluster: ClusterConfiguration, listen: HostAndPort, admin: HostAndPort?) {
        let database = cluster.database
        Oracle.check(
            !database.host.isEmpty
                && database.host.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F }
                && !database.host.contains(where: { "/@?#[],%".contains($0) }),
            "valid", "cluster.database.host \(database.host)")
        if database.host.contains(":") {
            Oracle.check(
                database.host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
                    && database.host.filter { $0 == ":" }.count >= 2,
                "valid", "cluster.database.host \(database.host) has a colon but is no IPv6 address")
        }
        self.check(database.port, in: 1...65535, "cluster.database.port")
        for (name, key) in [(database.user, "user"), (database.database, "database")] {
            Oracle.check(
                !name.isEmpty && name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }, "valid",
                "cluster.database.\(key) \(name.debugDescription)")
        }
        Oracle.check(
            database.passwordFile == nil || database.passwordEnvironment == nil, "valid",
            "cluster.database.passwordFile and passwordEnv both set")
        if let passwordFile = database.passwordFile {
            Oracle.check(!passwordFile.isEmpty, "valid", "empty cluster.database.passwordFile")
        }
        if let name = database.passwordEnvironment {
            Oracle.check(
                name.first.map { !$0.isNumber } == true
                    && name.utf8.allSatisfy { Self.isASCIILetterOrDigit($0) || $0 == UInt8(ascii: "_") },
                "valid", "cluster.database.passwordEnv \(name)")
        }
        Oracle.check(
            (1...63).contains(database.table.utf8.count) && database.table.first.map { !$0.isNumber } == true
                && database.table.utf8.allSatisfy {
                    ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || Self.isDigit($0) || $0 == UInt8(ascii: "_")
                },
            "valid", "cluster.database.table \(database.table)")

        let peer = cluster.peer
        self.check(peer.listen, "cluster.peer.listen")
        Oracle.check(!peer.secretFile.isEmpty, "valid", "empty cluster.peer.secretFile")
        if let advertise = peer.advertise {
            self.check(advertise, "cluster.peer.advertise")
            Oracle.check(
                advertise.port != 0 && !Self.isUnspecified(advertise.host), "valid",
                "cluster.peer.advertise \(advertise) cannot be reached")
        } else {
            Oracle.check(
                !Self.isUnspecified(peer.listen.host), "valid",
                "no cluster.peer.advertise beside cluster.peer.listen \(peer.listen)")
        }
        if peer.listen.port != 0 {
            Oracle.check(
                peer.listen != listen && peer.listen != admin, "valid",
                "cluster.peer.listen \(peer.listen) shares an address with another listener")
        }

        self.check(cluster.leaseSeconds, in: 2...3600, "cluster.leaseSeconds")
        self.check(cluster.renewIntervalSeconds, in: 0.5...1800, "cluster.renewIntervalSeconds")
        // Within a rounding error of a third: `3.3` and `1.1` are a third in decimal.
        Oracle.check(
            cluster.renewIntervalSeconds * 3 <= cluster.leaseSeconds * (1 + 1e-9) + 1e-5, "valid",
            "cluster.renewIntervalSeconds \(cluster.renewIntervalSeconds) over a third of \(cluster.leaseSeconds)")
        self.check(cluster.directoryTimeoutSeconds, in: 0.05...60, "cluster.directoryTimeoutSeconds")
    }

    /// `0.0.0.0`, or an IPv6 address of zeros only (`::`, `0:0:0:0:0:0:0:0`).
    private static func isUnspecified(_ host: String) -> Bool {
        host == "0.0.0.0" || (host.contains(":") && host.allSatisfy { $0 == "0" || $0 == ":" })
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func isASCIILetterOrDigit(_ byte: UInt8) -> Bool {
        Self.isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
}
