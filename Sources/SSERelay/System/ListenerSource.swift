import NIOCore
import NIOPosix
public import SSERelayCore

/// Where a listener's socket comes from: bound by the relay to a configured address, or
/// inherited already bound and listening from systemd (socket activation).
public enum ListenerSource: Sendable, Equatable {
    case address(HostAndPort)
    /// A listening socket passed by systemd as this file descriptor.
    case inherited(descriptor: CInt)

    /// Binds or adopts the listening socket with `bootstrap`.
    func bind(_ bootstrap: ServerBootstrap) async throws -> any Channel {
        switch self {
        case .address(let address):
            try await bootstrap.bind(host: address.host, port: address.port).get()
        case .inherited(let descriptor):
            try await bootstrap.withBoundSocket(descriptor).get()
        }
    }
}
