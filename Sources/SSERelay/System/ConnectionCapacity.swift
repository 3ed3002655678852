public import SSERelayCore

/// How many connections the relay may hold, on each side, within its open-files limit.
///
/// Every descriptor is a connection or something the process cannot do without, so the
/// budgets are shares of one number:
///
/// - a **reserve** for the listeners, the log, `/proc` reads for `/metrics`, the spare
///   descriptors the admin listener keeps for when the rest are gone, and whatever the runtime
///   opens: 64 or 2 % of the limit, whichever is more (never more than half of it);
/// - **clients** (`limits.maxConnections`): half of what is left, because every proxied
///   request can need two descriptors, its client's and an upstream connection;
/// - the **upstream share**, the other half, split between the keep-alive **pool** of
///   pass-through requests (`upstream.maxConnections`, a quarter of the share) and the dedicated
///   connections of **streams** (the rest). Streams get most of it: each conversation holds its
///   connection for its whole life, while pass-through requests return theirs within a request.
///
/// Explicit values are kept as configured, even when they promise more than the descriptors
/// hold (``isOvercommitted`` tells, and the server logs it). Streams then still get at least
/// half of the upstream share, so an explicit pool size cannot starve them; when the
/// descriptors run out anyway, the listener backs off and connects fail as they would.
///
/// A pure function of its inputs, so it is tested without touching the process's limits.
public struct ConnectionCapacity: Sendable, Hashable {
    /// The open-files limit the budgets come from.
    public var descriptorLimit: Int
    /// Descriptors kept out of every budget.
    public var reserve: Int
    /// The effective `limits.maxConnections`.
    public var clientConnections: Int
    /// The effective `upstream.maxConnections`: the keep-alive pool of pass-through requests.
    public var pooledUpstreamConnections: Int
    /// Dedicated upstream connections of streams, open at once, across the process.
    public var streamUpstreamConnections: Int
    /// Whether `limits.maxConnections` was derived rather than configured.
    public var clientConnectionsDerived: Bool
    /// Whether `upstream.maxConnections` was derived rather than configured.
    public var pooledUpstreamConnectionsDerived: Bool

    /// The budgets for `descriptorLimit` descriptors; `maxConnections` and
    /// `upstreamMaxConnections` are the configured values, `nil` when they are to be derived.
    public init(descriptorLimit: Int, maxConnections: Int?, upstreamMaxConnections: Int?) {
        // An unlimited or absurd limit counts as 2^24 so that the derived values stay within the
        // ranges the configuration accepts.
        let limit = min(max(descriptorLimit, 2), 1 << 24)
        let reserve = min(max(64, limit / 50), limit / 2)
        let usable = limit - reserve
        let clients = maxConnections ?? max(1, usable / 2)
        // At least a quarter of the descriptors stays for upstreams even when an explicit
        // client limit claims them all: without upstreams no client is served.
        let upstreamShare = max(usable - clients, usable / 4, 1)
        let pool = upstreamMaxConnections ?? max(1, upstreamShare / 4)
        self.descriptorLimit = descriptorLimit
        self.reserve = reserve
        self.clientConnections = clients
        self.pooledUpstreamConnections = pool
        self.streamUpstreamConnections = max(upstreamShare - pool, upstreamShare / 2, 1)
        self.clientConnectionsDerived = maxConnections == nil
        self.pooledUpstreamConnectionsDerived = upstreamMaxConnections == nil
    }

    /// The budgets of `configuration` for `descriptorLimit` descriptors.
    public init(descriptorLimit: Int, configuration: RelayConfiguration) {
        self.init(
            descriptorLimit: descriptorLimit,
            maxConnections: configuration.limits.maxConnections,
            upstreamMaxConnections: configuration.upstream.maxConnections)
    }

    /// Whether the budgets together promise more descriptors than the limit leaves after the
    /// reserve (only explicit values can).
    public var isOvercommitted: Bool {
        self.clientConnections + self.pooledUpstreamConnections + self.streamUpstreamConnections
            > min(self.descriptorLimit, 1 << 24) - self.reserve
    }
}
