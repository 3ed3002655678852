/// Where the relays of a cluster record which of them owns each stream key: a claim on a key
/// wins only when no live lease holds it, leases live until a time of the directory's own
/// clock, and their owner renews them in batches.
///
/// PostgreSQL in the relay (``PostgresStreamDirectory``); the handler tests use a directory in
/// memory.
protocol StreamDirectory: Sendable {
    /// Creates what the directory needs, if it is missing. Safe to run from several relays at
    /// once.
    func prepare() async throws

    /// Claims `key` for `member` for `leaseSeconds`, in one round trip.
    func claim(_ key: String, for member: ClusterMember, leaseSeconds: Double) async throws -> DirectoryClaim

    /// Extends every lease of `leases` that `member` still holds by `leaseSeconds`, recording
    /// their generations, in one statement. Returns the keys renewed: a key missing from it was
    /// lost (its lease expired and another relay claimed it).
    func renew(_ leases: [DirectoryLease], for member: ClusterMember, leaseSeconds: Double) async throws -> Set<String>

    /// Gives up `member`'s leases on `keys`, in one statement.
    func release(_ keys: [String], for member: ClusterMember) async throws

    /// Gives up every lease of `member`: a relay that stops.
    func releaseAll(for member: ClusterMember) async throws
}
