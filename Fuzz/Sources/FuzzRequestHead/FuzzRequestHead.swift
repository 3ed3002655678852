import FuzzSupport

/// libFuzzer target for the request path (see ``RequestHeadHarness``).
@main
enum FuzzRequestHead {
    static func main() {
        FuzzDriver.run(fuzzRequestHead)
    }
}

/// libFuzzer's per-input entry point: the input is what a client sends on one connection.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestHead(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    RequestHeadHarness.run(FuzzDriver.bytes(data, count))
    return 0
}
