import NIOCore
import Testing

@testable import SSERelay

/// The log throttle of failing accepts, with made-up instants.
@Suite("AcceptErrorThrottle")
struct AcceptErrorThrottleTests {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    private func at(_ milliseconds: Int64) -> NIODeadline {
        self.start + .milliseconds(milliseconds)
    }

    @Test("one line a second at most, each with the failures since the last")
    func oneLinePerInterval() {
        var throttle = AcceptErrorThrottle(interval: .seconds(1))
        #expect(throttle.failed(at: self.at(0)) == 1)
        // 4 a second for 3 seconds: 3 more lines, each reporting the failures since the last.
        var lines: [Int] = []
        for tick in 1...12 {
            if let count = throttle.failed(at: self.at(Int64(tick) * 250)) {
                lines.append(count)
            }
        }
        #expect(lines == [4, 4, 4])
    }

    @Test("recovery is said once, when a line is due, with the failures not yet reported")
    func recovery() {
        var throttle = AcceptErrorThrottle(interval: .seconds(1))
        #expect(throttle.succeeded(at: self.at(0)) == nil)
        #expect(throttle.failed(at: self.at(0)) == 1)
        #expect(throttle.failed(at: self.at(300)) == nil)
        #expect(throttle.succeeded(at: self.at(500)) == nil)
        #expect(throttle.isFailing)
        #expect(throttle.succeeded(at: self.at(1_000)) == 1)
        #expect(!throttle.isFailing)
        #expect(throttle.succeeded(at: self.at(3_000)) == nil)
    }
}
