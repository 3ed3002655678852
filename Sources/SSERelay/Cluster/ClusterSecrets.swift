import Foundation
import SSERelayCore

/// What the `cluster` section names but does not hold: the peer secret, read from
/// `cluster.peer.secretFile`, and the database password, from `cluster.database.passwordFile`
/// or the environment variable `cluster.database.passwordEnv`.
///
/// Read at start (and by `check-config`), so a file that does not read stops the relay with the
/// key path, exit status 78, before anything listens. Their contents never reach a log or an
/// error message.
struct ClusterSecrets: Sendable {
    let credentials: PeerCredentials
    let databasePassword: String?

    /// Why a secret could not be read: the key path and what is wrong, never the secret.
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads both secrets; `environment` is the process's, or a test's.
    static func load(
        for configuration: ClusterConfiguration,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SetupError) -> ClusterSecrets {
        let secretPath = configuration.peer.secretFile
        let secret = try Self.read(secretPath, key: "cluster.peer.secretFile")
        guard secret.count >= PeerCredentials.minimumLength else {
            throw SetupError(
                description:
                    "cluster.peer.secretFile: the secret in \(secretPath) is \(secret.count) bytes; at least \(PeerCredentials.minimumLength) are needed"
            )
        }
        guard secret.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw SetupError(
                description:
                    "cluster.peer.secretFile: the secret in \(secretPath) must be printable ASCII without spaces (it travels in a header)"
            )
        }
        let database = configuration.database
        var password: String?
        if let path = database.passwordFile {
            password = String(decoding: try Self.read(path, key: "cluster.database.passwordFile"), as: UTF8.self)
        } else if let name = database.passwordEnvironment {
            guard let value = environment[name] else {
                throw SetupError(
                    description: "cluster.database.passwordEnv: the environment variable \(name) is not set")
            }
            password = value
        }
        return ClusterSecrets(credentials: PeerCredentials(secret: secret), databasePassword: password)
    }

    /// The file's bytes without one trailing newline (CRLF or LF), as `echo` and editors leave it.
    private static func read(_ path: String, key: String) throws(SetupError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SetupError(description: "\(key): cannot read \(path)")
        }
        var bytes = [UInt8](data)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes
    }
}
