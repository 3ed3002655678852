import Testing

@testable import SSERelay

/// The process figures the relay exports (memory, descriptors, CPU time), read from `/proc`.
@Suite("ProcessFigures")
struct ProcessFiguresTests {
    @Test("process figures come from /proc and are plausible")
    func processFigures() throws {
        let figures = ProcessFigures.read()
        #expect(try #require(figures.residentMemoryBytes) > 1_000_000)
        #expect(try #require(figures.openFileDescriptors) >= 3)
        #expect(try #require(figures.cpuSeconds) > 0)
    }
}
