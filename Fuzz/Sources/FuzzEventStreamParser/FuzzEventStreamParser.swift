import FuzzSupport

/// libFuzzer target for ``EventStreamParser`` (see ``EventStreamParserHarness``).
@main
enum FuzzEventStreamParser {
    static func main() {
        FuzzDriver.run(fuzzEventStreamParser)
    }
}

/// libFuzzer's per-input entry point: the input is an upstream's `text/event-stream` body.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventStreamParser(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    EventStreamParserHarness.run(FuzzDriver.bytes(data, count))
    return 0
}
