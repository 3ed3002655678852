#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The fuzz targets' assertions: a violated invariant is a finding, reported with its name and
/// what was seen, then the process traps so that libFuzzer saves the input.
///
/// Each invariant has a short name (`upstream-framing`, `chunking`, …). Names listed,
/// comma-separated, in the environment variable `SSE_RELAY_FUZZ_TOLERATE` are not fatal: they
/// are the known findings not fixed yet, so that a long run can look for new ones instead of
/// stopping at the same one again. `Fuzz/run.sh` never sets it.
public enum Oracle {
    /// The invariant names whose violations are tolerated in this run.
    public static let tolerated: Set<String> = {
        guard let value = getenv("SSE_RELAY_FUZZ_TOLERATE") else { return [] }
        return Set(String(cString: value).split(separator: ",").map { String($0) })
    }()

    /// Whether `SSE_RELAY_FUZZ_VERBOSE` is set: the harnesses then print what they decoded, for
    /// replaying one input by hand.
    public static let isVerbose = getenv("SSE_RELAY_FUZZ_VERBOSE") != nil

    /// Writes a line to stderr, which libFuzzer leaves alone and a crash does not lose.
    public static func log(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Traps, naming `invariant`, unless `condition` holds or the invariant is tolerated.
    public static func check(
        _ condition: @autoclosure () -> Bool,
        _ invariant: StaticString,
        _ message: @autoclosure () -> String
    ) {
        guard !condition() else { return }
        let name = "\(invariant)"
        guard !self.tolerated.contains(name) else { return }
        fatalError("invariant \(name) violated: \(message())")
    }
}
