/// The directory's answer to a claim on a stream key.
enum DirectoryClaim: Sendable, Hashable {
    /// The key is this relay's now: nobody held a live lease on it, or this relay already did.
    /// `tookOver` says a lease of another relay had expired (its owner died or lost the
    /// database), for the expiries metric.
    case won(tookOver: Bool)
    /// Another relay holds a live lease on the key.
    case owned(by: ClusterMember)
}
