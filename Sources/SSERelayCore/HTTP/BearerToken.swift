/// The admin listener's `admin.token`, checked against a request's `Authorization` header.
///
/// The comparison takes the same time whatever the header holds, as long as it has the token's
/// length (and the length is all an attacker learns): a byte-by-byte compare that stops at the
/// first difference would let one find the token a byte at a time by timing responses.
public struct BearerToken: Sendable {
    private let expected: [UInt8]

    public init(_ token: String) {
        self.expected = Array(token.utf8)
    }

    /// Whether `authorization` (the header's value, if any) is `Bearer <token>`. The scheme is
    /// case-insensitive (RFC 9110 §11.1); surrounding spaces are ignored.
    public func accepts(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let value = authorization.utf8.drop { $0 == UInt8(ascii: " ") }
        let scheme = value.prefix(7)
        guard scheme.count == 7, String(decoding: scheme, as: UTF8.self).lowercased() == "bearer " else {
            return false
        }
        var presented = Array(value.dropFirst(7))
        while presented.first == UInt8(ascii: " ") { presented.removeFirst() }
        while presented.last == UInt8(ascii: " ") { presented.removeLast() }
        return Self.constantTimeEquals(presented, self.expected)
    }

    /// Compares every byte of equally long inputs, accumulating differences without branching.
    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}
