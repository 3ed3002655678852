#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's open-files limit (`RLIMIT_NOFILE`), read and raised.
///
/// A relay's connections are descriptors, so this limit is its real capacity. Shells and
/// service managers usually hand a process a low soft limit (1,024) under a much higher hard
/// one; the soft limit is only a default that a process may raise up to the hard limit itself,
/// which the relay does at start (``raiseSoftLimitToHard()``) before ``ConnectionCapacity``
/// derives its budgets from ``current()``.
public struct DescriptorLimit: Sendable, Hashable {
    /// The limit in force: opening a descriptor beyond it fails with `EMFILE`.
    public var soft: Int
    /// The ceiling an unprivileged process may raise ``soft`` to.
    public var hard: Int

    /// What ``raiseSoftLimitToHard()`` did.
    public enum Raise: Sendable, Hashable {
        /// The soft limit was already the hard one.
        case unchanged(DescriptorLimit)
        /// The soft limit was raised from `from`.
        case raised(from: Int, to: DescriptorLimit)
        /// `setrlimit` refused with `errno`; the limit stays as it was.
        case failed(DescriptorLimit, errno: CInt)
    }

    /// The highest soft limit asked for when the hard limit is unlimited: Linux refuses
    /// `RLIM_INFINITY` for this resource, and a million descriptors is `fs.nr_open`'s default.
    static let unlimitedTarget = 1 << 20

    /// The process's limit now, or `nil` when `getrlimit` fails.
    public static func current() -> DescriptorLimit? {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return nil }
        return DescriptorLimit(soft: Self.count(limit.rlim_cur), hard: Self.count(limit.rlim_max))
    }

    /// Raises the soft limit to the hard limit.
    public static func raiseSoftLimitToHard() -> Raise? {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return nil }
        let before = DescriptorLimit(soft: Self.count(limit.rlim_cur), hard: Self.count(limit.rlim_max))
        let target = Self.softTarget(hard: limit.rlim_max)
        guard limit.rlim_cur != Self.infinity, limit.rlim_cur < target else { return .unchanged(before) }
        limit.rlim_cur = target
        guard setrlimit(Self.resource, &limit) == 0 else { return .failed(before, errno: errno) }
        return .raised(from: before.soft, to: Self.current() ?? before)
    }

    /// The soft limit to ask for under `hard`.
    private static func softTarget(hard: rlim_t) -> rlim_t {
        let target = hard == Self.infinity ? rlim_t(Self.unlimitedTarget) : hard
        #if canImport(Darwin)
            // Darwin refuses a soft limit above OPEN_MAX whatever the hard limit says.
            return min(target, rlim_t(OPEN_MAX))
        #else
            return target
        #endif
    }

    private static func count(_ value: rlim_t) -> Int {
        value == Self.infinity || value > rlim_t(Int.max) ? Int.max : Int(value)
    }

    /// `RLIM_INFINITY`, which Swift cannot import from Glibc's macro (`-1` in an unsigned type).
    #if canImport(Darwin)
        private static let infinity = RLIM_INFINITY
    #else
        private static let infinity = rlim_t.max
    #endif

    #if canImport(Glibc)
        private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
        private static let resource = RLIMIT_NOFILE
    #endif
}
