import Foundation

/// Places a stream on one of several servers by weighted rendezvous (highest random weight)
/// hashing: every server gets a score from the stream's hash and its own, and the highest
/// score wins.
///
/// Chosen over a hash ring for three properties the relay needs, with no table to build or
/// keep: a key goes to the same server for as long as that server is there, whatever order the
/// servers are listed in and on whichever relay (the hashes are stable across processes); when
/// a server leaves (or is out), only its keys move, each to its own next best; and a server's
/// share of the keys follows its weight exactly in expectation (the score is
/// `weight / -ln(u)` with `u` uniform in (0, 1), the logarithmic method for weighted
/// rendezvous).
public enum RendezvousPlacement {
    /// The score of the server whose hash is `serverHash` and weight `weight` for the key whose
    /// hash is `keyHash`.
    public static func score(keyHash: UInt64, serverHash: UInt64, weight: Int) -> Double {
        let mixed = Self.mix(keyHash ^ serverHash)
        // The top 53 bits as a double in (0, 1): never 0, whose logarithm is infinite.
        let unit = (Double(mixed >> 11) + 0.5) / Double(UInt64(1) << 53)
        return Double(weight) / -log(unit)
    }

    /// SplitMix64's finaliser: every input bit flips each output bit with probability ½, so
    /// keys and servers that differ in one character still get independent scores.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a over `bytes`, continuing from `hash`: a hash that is the same in every process
    /// (Swift's `Hasher` is seeded per process, so two relays would disagree).
    public static func stableHash(_ bytes: some Sequence<UInt8>, continuing hash: UInt64 = 0xCBF2_9CE4_8422_2325)
        -> UInt64
    {
        var hash = hash
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
