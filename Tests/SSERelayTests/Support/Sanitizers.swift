#if canImport(Glibc)
    import Glibc
#endif

/// What a sanitizer build (`.ci/sanitize`) changes for the tests.
enum Sanitizers {
    /// Whether this test process runs under AddressSanitizer, found by its runtime's entry point.
    static let address = dlsym(nil, "__asan_init") != nil

    /// What to add to a bound on the growth of the process's resident memory. AddressSanitizer
    /// keeps up to 256 MiB of freed memory resident (its quarantine, which catches a use after
    /// free), and in a run of the whole suite that fills with what the tests running in
    /// parallel freed: one such test saw 361 MiB of growth against its 256 MiB bound.
    static var residentMemoryAllowance: Double { Self.address ? Double(256 << 20) : 0 }
}
