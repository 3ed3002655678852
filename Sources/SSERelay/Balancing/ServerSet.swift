/// A set of servers by ``UpstreamServer/index``: the ones an exchange or a stream already
/// tried, so a retry goes elsewhere. `upstream.servers` holds at most 64.
struct ServerSet: Sendable, Hashable {
    private var bits: UInt64 = 0

    /// No server.
    static let empty = ServerSet()

    func contains(_ index: Int) -> Bool {
        self.bits & (1 << UInt64(index)) != 0
    }

    mutating func insert(_ index: Int) {
        self.bits |= 1 << UInt64(index)
    }
}
