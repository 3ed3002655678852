import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A unix datagram socket standing in for systemd's notification socket in tests.
final class NotifySocket: @unchecked Sendable {
    // @unchecked: the descriptor is written once in init and only read afterwards; receive
    // calls are made by one test at a time.
    /// The value for `$NOTIFY_SOCKET`: a path, or `@name` for the abstract namespace.
    let name: String
    private let descriptor: Int32
    private let path: String?

    init(abstract: Bool) throws {
        let unique = "sse-relay-notify-\(UUID().uuidString.prefix(8))"
        let path = abstract ? nil : FileManager.default.temporaryDirectory.appendingPathComponent(unique).path
        self.name = abstract ? "@\(unique)" : (path ?? "")
        self.path = path
        self.descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard self.descriptor >= 0 else { throw FixtureError("socket() failed: \(errno)") }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(self.name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = 2 + bytes.count + (abstract ? 0 : 1)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(self.descriptor, $0, socklen_t(length)) }
        }
        guard bound == 0 else { throw FixtureError("bind(\(self.name)) failed: \(errno)") }
        // Every receive gives up after 20 s, so a missing message fails the test, never hangs it.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram, or `nil` after the receive timeout; off the cooperative pool.
    func receive() async -> String? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(self.descriptor, &buffer, buffer.count, 0)
                continuation.resume(returning: count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil)
            }
        }
    }

    deinit {
        close(self.descriptor)
        if let path { unlink(path) }
    }
}
