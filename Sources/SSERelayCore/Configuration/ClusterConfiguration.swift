/// `cluster` (object or `null`, default `null`): several relays that share one directory of
/// stream ownership in PostgreSQL, so that every stream key has at most one live generation in
/// the whole cluster whatever spreads requests among the relays.
///
/// Without it a relay is a single node, exactly as before: no database, no peer listener.
///
/// The core reads and checks the section but opens no file: ``ClusterDatabaseConfiguration``
/// and ``ClusterPeerConfiguration`` keep the paths of the password and secret files, and the
/// server reads them when it starts the cluster.
public struct ClusterConfiguration: Sendable, Hashable {
    /// `cluster.database` (object, required): the PostgreSQL server that holds the directory.
    public var database: ClusterDatabaseConfiguration
    /// `cluster.peer` (object, required): how relays reach each other.
    public var peer: ClusterPeerConfiguration
    /// `cluster.leaseSeconds` (number 2–3600, default 15): how long a claim on a stream key
    /// lives without renewal. A relay killed without a chance to release its keys holds them
    /// this long at most; the next request for one of them then starts a new generation.
    public var leaseSeconds: Double = 15
    /// `cluster.renewIntervalSeconds` (number 0.5–1800, default 5): how often a relay renews
    /// every lease it holds, in one statement. At most a third of ``leaseSeconds``, so that two
    /// renewals may fail before a lease can expire.
    public var renewIntervalSeconds: Double = 5
    /// `cluster.directoryTimeoutSeconds` (number 0.05–60, default 2): how long a stream start
    /// waits for the directory before it treats the database as unreachable and serves the
    /// request as a single node would.
    public var directoryTimeoutSeconds: Double = 2

    public init(database: ClusterDatabaseConfiguration, peer: ClusterPeerConfiguration) {
        self.database = database
        self.peer = peer
    }

    /// Whether a renewal every `renewInterval` seconds leaves room for two failed renewals within
    /// a lease of `lease` seconds: `renewInterval` at most `lease / 3`.
    ///
    /// With a tolerance of a millionth of a second, so that a third written out in decimal
    /// (`"leaseSeconds": 3.3, "renewIntervalSeconds": 1.1`) is not refused for the last bit of
    /// its binary fraction.
    static func renewalFits(renewInterval: Double, lease: Double) -> Bool {
        renewInterval <= lease / 3 + 1e-6
    }
}

extension ClusterConfiguration {
    /// Reads `cluster`; `nil` when `database` or `peer` is missing or unusable (reported).
    init?(reading reader: inout ConfigurationObjectReader) {
        let database: ClusterDatabaseConfiguration?
        switch reader.value("database") {
        case nil:
            database = nil
            reader.report(
                "database", "required: the PostgreSQL server that holds the directory, as url or as host and user")
        case .string?:
            database = nil
            reader.report("database", ClusterDatabaseURL.misplacedMessage(expected: "expected an object"))
        default:
            database = reader.object("database", default: nil) { ClusterDatabaseConfiguration(reading: &$0) }
        }
        let hadPeer = reader.value("peer") != nil
        let peer = reader.object("peer", default: nil) { ClusterPeerConfiguration(reading: &$0) }
        if !hadPeer {
            reader.report("peer", "required: listen and secretFile, at least")
        }
        let problemsBefore = reader.reportedProblemCount
        let lease = reader.seconds("leaseSeconds", default: 15, in: 2...3600)
        let renewInterval = reader.seconds("renewIntervalSeconds", default: 5, in: 0.5...1800)
        // Compared only when both were read as written: a bad value was reported already and
        // replaced by its default, which says nothing about the other one.
        if reader.reportedProblemCount == problemsBefore,
            !Self.renewalFits(renewInterval: renewInterval, lease: lease)
        {
            reader.report(
                "renewIntervalSeconds",
                "must be at most a third of cluster.leaseSeconds (\(lease.formattedForMessage)), so that two "
                    + "renewals in a row may fail before a lease runs out, got the number "
                    + renewInterval.formattedForMessage)
        }
        let directoryTimeout = reader.seconds("directoryTimeoutSeconds", default: 2, in: 0.05...60)
        guard let database, let peer else { return nil }
        self.init(database: database, peer: peer)
        self.leaseSeconds = lease
        self.renewIntervalSeconds = renewInterval
        self.directoryTimeoutSeconds = directoryTimeout
    }
}
