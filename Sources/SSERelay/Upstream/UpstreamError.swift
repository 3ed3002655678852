import NIOCore
public import NIOHTTP1
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Why a request to the upstream did not get a complete response.
///
/// A small struct rather than an enum so that new reasons can be added without breaking
/// callers; ``reason`` is the stable, lower-case name used in logs and metrics.
public struct UpstreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable name of the failure: `connection_refused`, `connect_timeout`,
    /// `response_timeout`, `closed_before_response`, `closed_mid_response`,
    /// `invalid_response`, `connect_failed`, `tls_failed`, `unresolved`, `no_connection_available`,
    /// `no_stream_connection_available`, `no_server_left`, `servers_replaced`, `shutting_down`.
    public let reason: String
    /// What a client is told: the failure in a few words, without the upstream's address, the
    /// pool's size or a configured limit, which are the operator's business.
    public let publicDetail: String
    /// One line for the operator, with addresses and sizes: logs and `/streams` only.
    public let detail: String
    /// The status a client gets when this failure happens before any response was sent.
    public let status: HTTPResponseStatus

    static func connectionRefused(_ upstream: String) -> Self {
        .init(
            reason: "connection_refused", publicDetail: "upstream refused the connection",
            detail: "upstream \(upstream) refused the connection", status: .badGateway)
    }

    static func connectFailed(_ upstream: String, _ error: any Error) -> Self {
        .init(
            reason: "connect_failed", publicDetail: "cannot connect to the upstream",
            detail: "cannot connect to upstream \(upstream): \(error)", status: .badGateway)
    }

    static func unresolved(_ upstream: String, _ error: String?) -> Self {
        .init(
            reason: "unresolved", publicDetail: "cannot connect to the upstream",
            detail: "upstream \(upstream): \(error ?? "its name resolves to no address")", status: .badGateway)
    }

    static func tlsFailed(_ upstream: String, _ error: any Error) -> Self {
        .init(
            reason: "tls_failed", publicDetail: "cannot connect to the upstream securely",
            detail: "TLS with upstream \(upstream) failed: \(error)", status: .badGateway)
    }

    static func connectTimeout(_ upstream: String, seconds: Double) -> Self {
        .init(
            reason: "connect_timeout", publicDetail: "upstream did not accept a connection in time",
            detail: "upstream \(upstream) did not accept a connection within \(seconds.secondsText)",
            status: .gatewayTimeout
        )
    }

    static func responseTimeout(seconds: Double) -> Self {
        .init(
            reason: "response_timeout", publicDetail: "upstream did not respond in time",
            detail: "upstream sent no response headers within \(seconds.secondsText)",
            status: .gatewayTimeout
        )
    }

    static let closedBeforeResponse = Self(
        reason: "closed_before_response", publicDetail: "upstream closed the connection",
        detail: "upstream closed the connection before responding",
        status: .badGateway
    )

    static let closedMidResponse = Self(
        reason: "closed_mid_response", publicDetail: "upstream closed the connection",
        detail: "upstream closed the connection in the middle of the response",
        status: .badGateway
    )

    static func invalidResponse(_ error: any Error) -> Self {
        .init(
            reason: "invalid_response", publicDetail: "upstream sent an invalid response",
            detail: "upstream sent an invalid HTTP response: \(error)", status: .badGateway)
    }

    static func noConnectionAvailable(limit: Int, seconds: Double) -> Self {
        .init(
            reason: "no_connection_available", publicDetail: "upstream busy, try again",
            detail: "all \(limit) upstream connections of this worker stayed busy for \(seconds.secondsText)",
            status: .serviceUnavailable
        )
    }

    static func noStreamConnectionAvailable(limit: Int) -> Self {
        .init(
            reason: "no_stream_connection_available", publicDetail: "upstream busy, try again",
            detail: "all \(limit) stream upstream connections of this worker are open",
            status: .serviceUnavailable
        )
    }

    static let noServerLeft = Self(
        reason: "no_server_left", publicDetail: "cannot connect to the upstream",
        detail: "every upstream server was tried", status: .badGateway
    )

    static let serversReplaced = Self(
        reason: "servers_replaced", publicDetail: "upstream busy, try again",
        detail: "a reload replaced the upstream's servers while the request waited for a connection",
        status: .serviceUnavailable
    )

    static let shuttingDown = Self(
        reason: "shutting_down", publicDetail: "the relay is shutting down",
        detail: "the relay is shutting down",
        status: .serviceUnavailable
    )

    public var description: String { self.detail }

    /// Whether the failure came before a connection existed, so the request never left the
    /// relay and may go to another server whatever its method.
    var isBeforeSending: Bool {
        switch self.reason {
        case "connection_refused", "connect_failed", "unresolved", "connect_timeout", "tls_failed": return true
        default: return false
        }
    }

    /// Whether the failure, once a connection was open, speaks about the server's health: it
    /// stopped answering or broke the protocol. A busy pool or a relay shutting down does not.
    var isServerFault: Bool {
        switch self.reason {
        case "response_timeout", "closed_before_response", "closed_mid_response", "invalid_response": return true
        default: return false
        }
    }
}

extension Double {
    /// `2 s`, `0.5 s`: a duration in an error message.
    var secondsText: String {
        self.rounded() == self ? "\(Int(self)) s" : "\(self) s"
    }
}

extension UpstreamError {
    /// Why a connection to `upstream` could not be opened, from the error of the connect.
    static func connectFailure(_ error: any Error, upstream: String, connectTimeoutSeconds: Double) -> Self {
        if let error = error as? UpstreamError {
            return error
        }
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError || error is TLSHandshakeTimeout
        {
            return .tlsFailed(upstream, error)
        }
        if case ChannelError.connectTimeout = error {
            return .connectTimeout(upstream, seconds: connectTimeoutSeconds)
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return .connectionRefused(upstream)
        }
        return .connectFailed(upstream, error)
    }
}
