#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The listening sockets systemd passed (`sse-relay.socket`), read from `LISTEN_FDS` and
/// `LISTEN_PID` as `sd_listen_fds(3)` does, without linking libsystemd.
///
/// With socket activation systemd owns the listening socket across restarts: connections
/// that arrive while the relay restarts wait in the socket's backlog instead of being refused.
/// The first passed socket is the proxy listener, a second one (if any) the admin listener;
/// the configured addresses of those listeners are then not bound.
public struct SocketActivation: Sendable, Equatable {
    /// The proxy listener's descriptor, when systemd passed one.
    public let proxy: CInt?
    /// The admin listener's descriptor, when systemd passed a second one.
    public let admin: CInt?

    /// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
    static let firstDescriptor: CInt = 3

    /// Reads the environment; passed sockets count only when `LISTEN_PID` names this process.
    public init(environment: [String: String], processID: Int32? = nil) {
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == processID ?? getpid(),
            let count = environment["LISTEN_FDS"].flatMap(Int.init), count > 0
        else {
            self.proxy = nil
            self.admin = nil
            return
        }
        self.proxy = Self.firstDescriptor
        self.admin = count > 1 ? Self.firstDescriptor + 1 : nil
    }

    /// No sockets passed.
    public static let none = SocketActivation(environment: [:])
}
