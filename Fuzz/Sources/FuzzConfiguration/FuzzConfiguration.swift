import FuzzSupport

/// libFuzzer target for ``ConfigurationLoader`` (see ``ConfigurationHarness``).
@main
enum FuzzConfiguration {
    static func main() {
        FuzzDriver.run(fuzzConfiguration)
    }
}

/// libFuzzer's per-input entry point: the input is the text of a configuration file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    ConfigurationHarness.run(FuzzDriver.bytes(data, count))
    return 0
}
