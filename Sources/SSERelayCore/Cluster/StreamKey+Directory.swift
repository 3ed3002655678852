import Crypto

extension StreamKey {
    /// The key's name in the cluster's directory: the hex SHA-256 of everything that tells one
    /// stream from another (route, parameters, query, the digest of its headers), each part
    /// length-prefixed so no two keys share an encoding.
    ///
    /// A cryptographic digest rather than ``placementHash``: two keys that collided in the
    /// directory would send one user's request to the relay holding another's stream. The
    /// owner computes the key again from the forwarded request itself, so even then it would
    /// never serve the wrong stream, but it would refuse or start where it should join.
    ///
    /// The same in every process and version that keeps this encoding: relays of different
    /// versions in one cluster must agree on it.
    public var directoryID: String {
        var hasher = SHA256()
        func append(_ text: String) {
            var length = UInt32(text.utf8.count).bigEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(text.utf8))
        }
        append(self.route)
        for parameter in self.parameters {
            append(parameter.name)
            append(parameter.value)
        }
        append("?")
        append(self.query)
        append(self.varyDigest)
        return Self.hex(hasher.finalize())
    }
}
