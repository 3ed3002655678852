public import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Tells systemd about the relay's state with `sd_notify` datagrams, without linking
/// libsystemd: one datagram per message to the unix socket named by `$NOTIFY_SOCKET` (a path,
/// or `@name` for the abstract namespace). Without `$NOTIFY_SOCKET` every call does nothing,
/// so the relay runs the same outside systemd.
public struct SystemdNotifier: Sendable {
    /// The socket address bytes (`sun_path`), with a leading NUL for the abstract namespace.
    private let socketPath: [UInt8]?
    /// Half of `$WATCHDOG_USEC`, when systemd asked for watchdog pings (for this process).
    public let watchdogInterval: TimeAmount?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    public init(environment: [String: String]) {
        if let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty,
            socket.hasPrefix("/") || socket.hasPrefix("@")
        {
            var path = Array(socket.utf8)
            if path.first == UInt8(ascii: "@") {
                path[0] = 0
            }
            self.socketPath = path
        } else {
            self.socketPath = nil
        }
        let forThisProcess = environment["WATCHDOG_PID"].map { $0 == String(getpid()) } ?? true
        if forThisProcess, let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0 {
            self.watchdogInterval = .microseconds(usec / 2)
        } else {
            self.watchdogInterval = nil
        }
    }

    /// Whether systemd listens (`$NOTIFY_SOCKET` is set).
    public var isEnabled: Bool { self.socketPath != nil }

    /// Sends `state`, newline-separated `KEY=VALUE` assignments such as `READY=1`. Failures are
    /// returned, not thrown: a missing systemd must never stop the relay.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let socketPath = self.socketPath else { return false }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? MemoryLayout<sa_family_t>.size
        guard socketPath.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return false }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: socketPath)
        }
        // A path socket's length includes its terminating NUL; an abstract one's does not.
        let length = pathOffset + socketPath.count + (socketPath.first == 0 ? 0 : 1)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { bytes in
                    sendto(
                        descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketAddress,
                        socklen_t(length))
                }
            }
        }
        return sent == message.count
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC` systemd wants alongside it (the
    /// `CLOCK_MONOTONIC` time of the reload, which it uses to tell reloads apart).
    @discardableResult
    public func notifyReloading() -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
        return self.notify("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
    }
}
