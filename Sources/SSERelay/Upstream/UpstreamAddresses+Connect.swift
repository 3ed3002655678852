import NIOCore

extension UpstreamAddresses {
    /// The address a new connection goes to, in turn. When the name stands for none, asks for
    /// an early resolution and throws ``UpstreamError/unresolved(_:_:)`` saying why: what every
    /// connection to the upstream (pooled, probe, health check) does first.
    func nextForConnection() throws(UpstreamError) -> SocketAddress {
        guard let address = self.next() else {
            self.connectFailed()
            throw UpstreamError.unresolved(self.name, self.resolutionError)
        }
        return address
    }
}
