import SSERelayCore

/// One relay of a cluster as the directory records it: an id of its own and the address its
/// peer listener is reached at.
///
/// The id is new in every process, never derived from the address: a relay restarted at the
/// same address must not inherit the leases of the process that was killed, whose generations
/// died with it.
struct ClusterMember: Sendable, Hashable, CustomStringConvertible {
    /// 128 random bits in hexadecimal.
    let id: String
    /// `host:port` of the peer listener, as other relays connect to it.
    let peerAddress: String

    init(id: String, peerAddress: String) {
        self.id = id
        self.peerAddress = peerAddress
    }

    /// A member with a new random id.
    init(peerAddress: String) {
        var generator = SystemRandomNumberGenerator()
        let words = (generator.next() as UInt64, generator.next() as UInt64)
        let digits = String(words.0, radix: 16) + "-" + String(words.1, radix: 16)
        self.init(id: digits, peerAddress: peerAddress)
    }

    var description: String { "\(self.peerAddress) (\(self.id))" }
}
