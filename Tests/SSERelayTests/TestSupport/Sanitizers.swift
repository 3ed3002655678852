import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a sanitizer build (`.ci/sanitize`) changes for the tests.
enum Sanitizers {
    /// Whether this test process runs under AddressSanitizer, found by its runtime's entry point.
    static let address = dlsym(nil, "__asan_init") != nil
    /// Whether this test process runs under ThreadSanitizer, found the same way.
    static let thread = dlsym(nil, "__tsan_init") != nil

    /// Whether a sanitizer is on at all.
    static var isActive: Bool { Self.address || Self.thread }
    /// Why a load test does not run under a sanitizer: it would take both cores for seconds,
    /// 3 to 10 times slower, and starve the timing of the tests that run beside it. The plain
    /// suite runs it.
    static let loadTestReason: Comment =
        "a load test: the plain suite runs it, a sanitizer build starves the tests beside it"

    /// What to add to a bound on the growth of the process's resident memory, which counts
    /// what the tests running in parallel touched too.
    /// - AddressSanitizer keeps up to 256 MiB of freed memory resident (its quarantine, which
    ///   catches a use after free): one test saw 361 MiB of growth against its 256 MiB bound.
    /// - ThreadSanitizer maps shadow memory for what every thread touches (it documents 5–10
    ///   times the memory): in CI one test saw 262 MiB of growth against the same bound.
    static var residentMemoryAllowance: Double {
        if Self.address { return Double(256 << 20) }
        if Self.thread { return Double(1 << 30) }
        return 0
    }
}
