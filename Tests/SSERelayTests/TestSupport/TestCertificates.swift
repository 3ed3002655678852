import Foundation

/// A certificate authority and a server certificate it signed, made with the `openssl` command
/// in a temporary directory for one test, and removed with it.
final class TestCertificates {
    let directory: URL
    /// The authority's certificate (PEM): what `upstream.tls.caFile` names.
    var caFile: String { self.directory.appendingPathComponent("ca.pem").path }
    /// The server's private key and certificate (PEM), for the HTTPS fixture.
    var serverKey: String { self.directory.appendingPathComponent("server.key").path }
    var serverCertificate: String { self.directory.appendingPathComponent("server.pem").path }

    /// Whether `openssl` can be run here.
    static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")
    }

    /// A fresh authority and a server certificate for `subjectAlternativeNames` (`IP:127.0.0.1`,
    /// `DNS:localhost`), valid for a day.
    init(subjectAlternativeNames: [String]) throws {
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sse-relay-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try self.openssl(
            ["req", "-x509"] + curve + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=sse-relay test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            ])
        try self.openssl(["req"] + curve + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=backend"])
        let extensions = """
            subjectAltName=\(subjectAlternativeNames.joined(separator: ","))
            basicConstraints=CA:FALSE
            keyUsage=digitalSignature
            extendedKeyUsage=serverAuth

            """
        try extensions.write(to: self.directory.appendingPathComponent("server.ext"), atomically: true, encoding: .utf8)
        try self.openssl([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "1", "-extfile", "server.ext",
        ])
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = self.directory
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(
                "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))"
            )
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: self.directory)
    }
}
