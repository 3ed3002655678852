import Logging
import NIOConcurrencyHelpers
import NIOCore
import SSERelayCore

/// This relay's part in a cluster: it claims stream keys in the directory before starting
/// generations, keeps the leases of the keys it serves alive, gives them up when their
/// generations are gone, and serves as a single node while the directory cannot be reached.
///
/// Which keys it holds is decided here, from two sources: claims it won, and the keys the
/// ``StreamRegistry`` holds generations of (read at every renewal). A key claimed but never
/// started (the client left, a limit refused it) is released at the next renewal after a full
/// interval; a key whose generations are all gone, likewise. A generation started while the
/// directory was unreachable is claimed when it returns.
///
/// Every decision about a key is taken under one lock; the directory's round trips happen
/// outside it, on Swift concurrency's executor, and their answers come back to the caller's
/// event loop.
final class ClusterNode: Sendable {
    /// This relay in the directory.
    let member: ClusterMember
    let configuration: ClusterConfiguration
    let metrics: ClusterMetrics
    /// The secret that forwarded requests carry.
    let credentials: PeerCredentials
    /// Connections to the other relays, for forwarded requests.
    let peers: PeerPools
    private let directory: any StreamDirectory
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    /// Where a stream request that would start a generation is served.
    enum Decision: Sendable, Hashable {
        /// Here: this relay holds the key now, or the directory cannot say and the relay serves
        /// as a single node would.
        case serveHere
        /// At the relay that holds the key.
        case forward(to: ClusterMember)
        /// Nowhere: the relay is draining and claims nothing new. The client is told to retry,
        /// and its retry reaches a relay that is not.
        case refuse
    }

    private struct State {
        var held: [String: HeldKey] = [:]
        var isDegraded = false
        var isDraining = false
        /// Whether the directory's table is known to exist (``prepare()`` succeeded once).
        var isPrepared = false
    }

    /// A key this relay serves, and what the directory knows of it.
    private struct HeldKey {
        /// When the key was claimed or first seen held, for the release of claims never used.
        var since: NIODeadline
        var standing: Standing
    }

    private enum Standing {
        /// The directory records this relay as the key's holder.
        case confirmed
        /// Served while the directory could not be reached: to be claimed when it returns.
        case unconfirmed
        /// Another relay took the key while this one could not renew it: this relay's
        /// generations of it run to their end, and the key is neither renewed nor claimed again.
        case lost
    }

    init(
        member: ClusterMember, configuration: ClusterConfiguration, directory: any StreamDirectory,
        credentials: PeerCredentials, peers: PeerPools, metrics: ClusterMetrics, logger: Logger
    ) {
        self.member = member
        self.configuration = configuration
        self.directory = directory
        self.credentials = credentials
        self.peers = peers
        self.metrics = metrics
        self.logger = logger
        metrics.setDegraded(false)
    }

    /// Whether the directory is unreachable and the relay serves as a single node.
    var isDegraded: Bool { self.state.withLockedValue { $0.isDegraded } }

    // MARK: Claims

    /// Decides where a stream request for `key` (its ``StreamKey/directoryID``) that would
    /// start a generation is served, within `cluster.directoryTimeoutSeconds`. The future
    /// completes on `eventLoop`.
    func claim(_ key: String, on eventLoop: any EventLoop) -> EventLoopFuture<Decision> {
        let now = NIODeadline.now()
        let settled = self.state.withLockedValue { state -> Decision? in
            if state.isDraining {
                // A key held here may still start a generation: its reconnects come here.
                return state.held[key] == nil ? .refuse : .serveHere
            }
            guard state.isDegraded else { return nil }
            if state.held[key] == nil {
                state.held[key] = HeldKey(since: now, standing: .unconfirmed)
            }
            return .serveHere
        }
        if let settled {
            self.metrics.record(.skipped)
            return eventLoop.makeSucceededFuture(settled)
        }
        let promise = eventLoop.makePromise(of: Decision.self)
        promise.completeWithTask { await self.claimInDirectory(key) }
        return promise.futureResult
    }

    /// One claim's round trip and what it means for the key.
    private func claimInDirectory(_ key: String) async -> Decision {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let claim = try await self.bounded { directory, member, lease in
                try await directory.claim(key, for: member, leaseSeconds: lease)
            }
            self.metrics.record(.claim, took: start.duration(to: clock.now))
            switch claim {
            case .won(let tookOver):
                self.metrics.record(.won)
                if tookOver { self.metrics.leaseTakenOver() }
                self.state.withLockedValue { $0.held[key] = HeldKey(since: .now(), standing: .confirmed) }
                return .serveHere
            case .owned(let owner):
                self.metrics.record(.lost)
                return .forward(to: owner)
            }
        } catch {
            self.metrics.record(.claim, took: start.duration(to: clock.now))
            self.metrics.record(.unavailable)
            self.directoryFailed(error)
            self.serveUnconfirmed(key)
            return .serveHere
        }
    }

    /// Notes that `key` is served here without the directory's word, to be claimed when it
    /// answers again.
    private func serveUnconfirmed(_ key: String) {
        self.state.withLockedValue { state in
            if state.held[key] == nil {
                state.held[key] = HeldKey(since: .now(), standing: .unconfirmed)
            }
        }
    }

    /// Runs `statement` against the directory within `cluster.directoryTimeoutSeconds` (for a
    /// `batch`, at least the renewal interval: a renewal of thousands of leases may take longer
    /// than one claim), with this relay and the lease time.
    private func bounded<Value: Sendable>(
        batch: Bool = false,
        _ statement: @escaping @Sendable (any StreamDirectory, ClusterMember, Double) async throws -> Value
    ) async throws -> Value {
        let seconds =
            batch
            ? max(self.configuration.directoryTimeoutSeconds, self.configuration.renewIntervalSeconds)
            : self.configuration.directoryTimeoutSeconds
        let directory = self.directory
        let member = self.member
        let lease = self.configuration.leaseSeconds
        return try await DirectoryDeadline.run(seconds: seconds) { try await statement(directory, member, lease) }
    }

    // MARK: Start

    /// Creates the directory's table if it is missing, within `cluster.directoryTimeoutSeconds`
    /// (the relay listens once this returns). A database that cannot be reached does not stop
    /// the relay: it starts degraded and prepares the table when the database answers.
    func start() async {
        do {
            try await self.prepare()
        } catch {
            self.directoryFailed(error)
        }
    }

    private func prepare() async throws {
        try await self.bounded { directory, _, _ in try await directory.prepare() }
        self.state.withLockedValue { $0.isPrepared = true }
    }

    // MARK: Degraded mode

    /// The directory failed: from now on the relay serves as a single node, without asking it,
    /// until a renewal finds it again. Said once in the log and in the metric.
    private func directoryFailed(_ error: any Error) {
        let entered = self.state.withLockedValue { state in
            defer { state.isDegraded = true }
            return !state.isDegraded
        }
        guard entered else { return }
        self.metrics.setDegraded(true)
        self.logger.error(
            "the cluster directory cannot be reached; serving as a single node until it returns",
            metadata: ["error": "\(ClusterError.describe(error))"])
    }

    // MARK: Renewal

    /// Renews this relay's leases every `cluster.renewIntervalSeconds` until the task is
    /// cancelled. `leases` reads the keys the registry holds generations of, with their newest
    /// generation.
    func renewPeriodically(leases: @escaping @Sendable () -> [DirectoryLease]) async {
        let interval = Duration.milliseconds(Int64(self.configuration.renewIntervalSeconds * 1000))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            await self.renew(leases())
        }
    }

    /// One renewal: renews the confirmed leases in one statement, claims what was served while
    /// the directory was away, releases what is no longer served. `now` decides which claims
    /// went unused for a whole interval.
    func renew(_ local: [DirectoryLease], now: NIODeadline = .now()) async {
        let unusedAfter = TimeAmount.fractionalSeconds(self.configuration.renewIntervalSeconds)
        let plan = self.state.withLockedValue { state in
            RenewalPlan.make(local: local, held: &state.held, now: now, unusedAfter: unusedAfter)
        }
        let clock = ContinuousClock()
        do {
            if !self.state.withLockedValue({ $0.isPrepared }) {
                try await self.prepare()
            }
            var start = clock.now
            let renewed = try await self.bounded(batch: true) { directory, member, lease in
                try await directory.renew(plan.confirmed, for: member, leaseSeconds: lease)
            }
            self.metrics.record(.renew, took: start.duration(to: clock.now))
            self.metrics.leasesRenewed(renewed.count)
            self.rejoinIfDegraded()
            let lost = plan.confirmed.map(\.key).filter { !renewed.contains($0) }
            if !lost.isEmpty {
                self.markLost(lost)
                self.metrics.leasesLost(lost.count)
                self.logger.warning(
                    "leases expired and were taken by another relay; this relay's streams of those keys run to their end",
                    metadata: ["keys": "\(lost.count)"])
            }
            for key in plan.unconfirmed {
                start = clock.now
                let claim = try await self.bounded { directory, member, lease in
                    try await directory.claim(key, for: member, leaseSeconds: lease)
                }
                self.metrics.record(.claim, took: start.duration(to: clock.now))
                self.settleUnconfirmed(key, claim)
            }
            if !plan.released.isEmpty {
                start = clock.now
                try await self.bounded(batch: true) { directory, member, _ in
                    try await directory.release(plan.released, for: member)
                }
                self.metrics.record(.release, took: start.duration(to: clock.now))
                await self.reclaimReleasedIfServed(plan.released)
            }
        } catch {
            self.directoryFailed(error)
        }
        self.metrics.setLeasesHeld(self.state.withLockedValue { $0.held.count })
    }

    /// A claim made for a key served while the directory was away.
    private func settleUnconfirmed(_ key: String, _ claim: DirectoryClaim) {
        switch claim {
        case .won(let tookOver):
            if tookOver { self.metrics.leaseTakenOver() }
            self.state.withLockedValue { $0.held[key]?.standing = .confirmed }
        case .owned(let owner):
            self.markLost([key])
            self.logger.warning(
                "a stream served while the directory was unreachable is held by another relay; both serve it until this one ends",
                metadata: ["owner": "\(owner.peerAddress)"])
        }
    }

    private func markLost(_ keys: [String]) {
        self.state.withLockedValue { state in
            for key in keys { state.held[key]?.standing = .lost }
        }
    }

    /// A key released while a request claimed it again (the claim won, since the lease was
    /// still this relay's) would be served without a lease: such keys are claimed once more.
    private func reclaimReleasedIfServed(_ released: [String]) async {
        let again = self.state.withLockedValue { state in released.filter { state.held[$0] != nil } }
        for key in again {
            if let claim = try? await self.bounded({ directory, member, lease in
                try await directory.claim(key, for: member, leaseSeconds: lease)
            }) {
                self.settleUnconfirmed(key, claim)
            }
        }
    }

    private func rejoinIfDegraded() {
        let rejoined = self.state.withLockedValue { state in
            defer { state.isDegraded = false }
            return state.isDegraded
        }
        guard rejoined else { return }
        self.metrics.setDegraded(false)
        self.logger.notice("the cluster directory answers again; claiming streams in it from now on")
    }

    // MARK: Draining and stopping

    /// The relay drains: it claims nothing new, and keeps serving (and renewing) the keys it
    /// holds.
    func beginDraining() {
        self.state.withLockedValue { $0.isDraining = true }
    }

    /// Gives up every lease of this relay, within the directory timeout: the last step of a
    /// shutdown, so that peers stop forwarding here and claim the keys at once.
    func releaseAll() async {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await self.bounded { directory, member, _ in try await directory.releaseAll(for: member) }
            self.metrics.record(.release, took: start.duration(to: clock.now))
            self.state.withLockedValue { $0.held.removeAll() }
        } catch {
            self.logger.warning(
                "could not release this relay's leases; they expire on their own",
                metadata: [
                    "error": "\(ClusterError.describe(error))",
                    "lease_seconds": "\(self.configuration.leaseSeconds)",
                ])
        }
    }

    /// Keys held now, for inspection.
    var heldKeyCount: Int { self.state.withLockedValue { $0.held.count } }

    /// What the directory knows of `key` as this relay sees it, for `/streams`: `held`,
    /// `unconfirmed` or `lost`; `nil` for a key this relay does not hold (yet: a generation
    /// started a moment ago is counted at the next renewal).
    func leaseStanding(of key: String) -> String? {
        switch self.state.withLockedValue({ $0.held[key]?.standing }) {
        case .confirmed?: "held"
        case .unconfirmed?: "unconfirmed"
        case .lost?: "lost"
        case nil: nil
        }
    }

    /// What one renewal does, decided under the lock from the keys held and the registry's.
    private struct RenewalPlan {
        var confirmed: [DirectoryLease] = []
        var unconfirmed: [String] = []
        var released: [String] = []

        static func make(
            local: [DirectoryLease], held: inout [String: HeldKey], now: NIODeadline, unusedAfter: TimeAmount
        ) -> RenewalPlan {
            var plan = RenewalPlan()
            var served: Set<String> = []
            for lease in local {
                served.insert(lease.key)
                let entry = held[lease.key, default: HeldKey(since: now, standing: .unconfirmed)]
                held[lease.key] = entry
                switch entry.standing {
                case .confirmed: plan.confirmed.append(lease)
                case .unconfirmed: plan.unconfirmed.append(lease.key)
                case .lost: break
                }
            }
            for (key, entry) in held where !served.contains(key) {
                if now - entry.since < unusedAfter, entry.standing == .confirmed {
                    // Claimed a moment ago; its generation may be about to start.
                    plan.confirmed.append(DirectoryLease(key: key, generation: nil, state: .claimed))
                    continue
                }
                held[key] = nil
                if entry.standing == .confirmed {
                    plan.released.append(key)
                }
            }
            return plan
        }
    }
}
