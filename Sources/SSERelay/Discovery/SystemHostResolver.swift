import Dispatch
public import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Resolves a host name to every TCP address it stands for, with the system's resolver
/// (`getaddrinfo`: `/etc/hosts`, then DNS, as `/etc/nsswitch.conf` says), on a Dispatch worker
/// thread so that no event loop waits on a name server. (Not NIO's blocking thread pool: its
/// process-wide singleton keeps a queue LeakSanitizer reports at exit.)
public struct SystemHostResolver: Sendable {
    /// Why a name did not resolve: `getaddrinfo`'s own words.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init() {}

    /// Resolves `host`, port `port`: IPv4 and IPv6 stream addresses, in the resolver's order,
    /// each once.
    func resolve(host: String, port: Int) async throws -> [SocketAddress] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Self.resolveBlocking(host: host, port: port) })
            }
        }
    }

    /// ``resolve(host:port:)`` on the calling thread, which waits for the name server: for the
    /// command line, never an event loop.
    public static func resolveBlocking(host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            throw Failure(description: "\(host) does not resolve: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry = list
        // Bounded: getaddrinfo's list is finite and ends in nil.
        while let current = entry {
            defer { entry = current.pointee.ai_next }
            guard let raw = current.pointee.ai_addr else { continue }
            let address: SocketAddress
            switch current.pointee.ai_family {
            case AF_INET:
                address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    SocketAddress($0.pointee, host: host)
                }
            case AF_INET6:
                address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    SocketAddress($0.pointee, host: host)
                }
            default:
                continue
            }
            if !addresses.contains(address) {
                addresses.append(address)
            }
        }
        guard !addresses.isEmpty else {
            throw Failure(description: "\(host) resolves to no IPv4 or IPv6 address")
        }
        return addresses
    }
}
