import NIOConcurrencyHelpers
import NIOCore

@testable import SSERelay

/// A ``StreamDirectory`` in memory, with the PostgreSQL directory's rules (a claim wins when no
/// live lease holds the key or the claimant holds it; renewals and releases touch only the
/// claimant's rows), its clock a value the test moves, and a switch that makes every statement
/// fail or hang as an unreachable database does.
final class MemoryStreamDirectory: StreamDirectory {
    struct Row: Equatable {
        var owner: ClusterMember
        var generation: String?
        var state: DirectoryLease.State
        var leaseUntil: Double
    }

    /// How the directory answers.
    enum Reachability {
        case up
        /// Every statement throws at once, as a refused connection does.
        case failing
        /// Every statement waits until the directory is up again, as a database that stopped
        /// answering does.
        case hanging
    }

    private struct State {
        var rows: [String: Row] = [:]
        var now: Double = 0
        var reachability = Reachability.up
        var statements = 0
        var hanging: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    struct Unreachable: Error {}

    var rows: [String: Row] { self.state.withLockedValue { $0.rows } }
    var statements: Int { self.state.withLockedValue { $0.statements } }

    /// Moves the directory's clock forward.
    func advance(by seconds: Double) {
        self.state.withLockedValue { $0.now += seconds }
    }

    func set(_ reachability: Reachability) {
        let waiters = self.state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.reachability = reachability
            guard reachability != .hanging else { return [] }
            defer { state.hanging = [] }
            return state.hanging
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Puts a row as another relay's claim would.
    func insert(_ key: String, owner: ClusterMember, leaseSeconds: Double) {
        self.state.withLockedValue { state in
            state.rows[key] = Row(owner: owner, generation: nil, state: .claimed, leaseUntil: state.now + leaseSeconds)
        }
    }

    private func reach() async throws {
        let reachability = self.state.withLockedValue { state in
            state.statements += 1
            return state.reachability
        }
        switch reachability {
        case .up: return
        case .failing: throw Unreachable()
        case .hanging:
            await withCheckedContinuation { continuation in
                let resumeNow = self.state.withLockedValue { state in
                    guard state.reachability == .hanging else { return true }
                    state.hanging.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            if self.state.withLockedValue({ $0.reachability }) != .up { throw Unreachable() }
        }
    }

    func prepare() async throws {
        try await self.reach()
    }

    func claim(_ key: String, for member: ClusterMember, leaseSeconds: Double) async throws -> DirectoryClaim {
        try await self.reach()
        return self.state.withLockedValue { state in
            if let row = state.rows[key], row.owner.id != member.id, row.leaseUntil >= state.now {
                return .owned(by: row.owner)
            }
            let previous = state.rows[key]
            let tookOver = previous.map { $0.owner.id != member.id } ?? false
            let kept = previous?.owner.id == member.id ? previous : nil
            state.rows[key] = Row(
                owner: member, generation: kept?.generation, state: kept?.state ?? .claimed,
                leaseUntil: state.now + leaseSeconds)
            return .won(tookOver: tookOver)
        }
    }

    func renew(_ leases: [DirectoryLease], for member: ClusterMember, leaseSeconds: Double) async throws -> Set<String>
    {
        try await self.reach()
        return self.state.withLockedValue { state in
            var renewed: Set<String> = []
            for lease in leases where state.rows[lease.key]?.owner.id == member.id {
                state.rows[lease.key]?.leaseUntil = state.now + leaseSeconds
                if let generation = lease.generation { state.rows[lease.key]?.generation = generation }
                state.rows[lease.key]?.state = lease.state
                renewed.insert(lease.key)
            }
            return renewed
        }
    }

    func release(_ keys: [String], for member: ClusterMember) async throws {
        try await self.reach()
        self.state.withLockedValue { state in
            for key in keys where state.rows[key]?.owner.id == member.id {
                state.rows[key] = nil
            }
        }
    }

    func releaseAll(for member: ClusterMember) async throws {
        try await self.reach()
        self.state.withLockedValue { state in
            state.rows = state.rows.filter { $0.value.owner.id != member.id }
        }
    }
}
