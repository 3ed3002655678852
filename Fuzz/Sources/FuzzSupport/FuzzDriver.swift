import CLibFuzzer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts libFuzzer in a fuzz target's `main`.
///
/// SwiftPM gives every executable target its own `main` on Linux (it renames the entry point
/// to `<Target>_main` and points `main` at it), so libFuzzer's `main` is never the one that
/// runs. Each target therefore has an `@main` type that hands its `LLVMFuzzerTestOneInput`
/// to ``run(_:)``, which passes the command line to libFuzzer unchanged.
public enum FuzzDriver {
    /// The signature of `LLVMFuzzerTestOneInput`.
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Runs libFuzzer with the process's arguments and exits with its status.
    public static func run(_ testOneInput: TestOneInput) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        let status = LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
        exit(status)
    }

    /// The input libFuzzer passed, as bytes (an empty input may come with a null pointer).
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ count: Int) -> [UInt8] {
        guard let data, count > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: count))
    }
}
