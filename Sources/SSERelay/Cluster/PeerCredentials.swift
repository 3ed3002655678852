import NIOHTTP1

/// What proves that a request on the peer listener came from a relay of the cluster: the shared
/// secret of `cluster.peer.secretFile`, sent in ``secretHeader``, and what the forwarding relay
/// says of the client.
///
/// Only the peer listener reads these headers, and only after the secret matched; the proxy
/// listener never honours them, so a client cannot pass itself off as a relay, nor choose the
/// address its budgets are counted against. The secret is compared in constant time.
///
/// The secret keeps clients out of the peer listener, not eavesdroppers off the network between
/// relays: put the peer listeners on a private network.
struct PeerCredentials: Sendable {
    /// The header that carries the secret on a forwarded request.
    static let secretHeader = "SSE-Relay-Peer-Secret"
    /// The header that carries the address of the client whose request was forwarded, which the
    /// owner counts its per-client budgets against.
    static let clientHeader = "SSE-Relay-Peer-Client"

    private let secret: [UInt8]

    /// The shortest secret accepted, in bytes.
    static let minimumLength = 16

    init(secret: [UInt8]) {
        self.secret = secret
    }

    /// Adds the secret and the client's address to a request forwarded to a peer, in place of
    /// whatever the client sent under those names.
    func authorize(_ headers: inout HTTPHeaders, client: String?) {
        headers.replaceOrAdd(name: Self.secretHeader, value: String(decoding: self.secret, as: UTF8.self))
        headers.remove(name: Self.clientHeader)
        if let client {
            headers.add(name: Self.clientHeader, value: client)
        }
    }

    /// Whether `headers` carry the secret, exactly once; constant time in the secret's length.
    func authenticates(_ headers: HTTPHeaders) -> Bool {
        let values = headers[Self.secretHeader]
        guard values.count == 1, let value = values.first else { return false }
        let given = Array(value.utf8)
        var difference = UInt8(given.count == self.secret.count ? 0 : 1)
        for index in self.secret.indices {
            difference |= self.secret[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }

    /// Takes the peer headers off an authenticated request, so that its stream key and the
    /// request sent upstream are the client's own. Returns the client address the forwarding
    /// relay gave.
    static func strip(_ headers: inout HTTPHeaders) -> String? {
        let client = headers.first(name: Self.clientHeader)
        headers.remove(name: Self.secretHeader)
        headers.remove(name: Self.clientHeader)
        return client
    }
}
