extension StreamKey {
    /// The key's hash for ``RendezvousPlacement``: stable across processes, and made of what
    /// tells one stream from another (route, parameters, query, the digest of its headers), so
    /// every reconnect of a conversation, through any relay, lands on the same server.
    public var placementHash: UInt64 {
        var hash = RendezvousPlacement.stableHash(self.route.utf8)
        for parameter in self.parameters {
            hash = RendezvousPlacement.stableHash(CollectionOfOne(0), continuing: hash)
            hash = RendezvousPlacement.stableHash(parameter.name.utf8, continuing: hash)
            hash = RendezvousPlacement.stableHash(CollectionOfOne(1), continuing: hash)
            hash = RendezvousPlacement.stableHash(parameter.value.utf8, continuing: hash)
        }
        hash = RendezvousPlacement.stableHash(CollectionOfOne(2), continuing: hash)
        hash = RendezvousPlacement.stableHash(self.query.utf8, continuing: hash)
        hash = RendezvousPlacement.stableHash(CollectionOfOne(3), continuing: hash)
        return RendezvousPlacement.stableHash(self.varyDigest.utf8, continuing: hash)
    }
}
