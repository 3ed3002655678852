import NIOCore
import NIOEmbedded
import Testing

@testable import SSERelay

/// ``DeadlineTimer`` on an `EmbeddedEventLoop`, whose clock only moves when the test says.
@Suite("DeadlineTimer")
struct DeadlineTimerTests {
    /// Counts expiries, and when they happened.
    final class Expiries {
        var times: [NIODeadline] = []
    }

    @Test("fires once, at its deadline")
    func firesAtDeadline() {
        let loop = EmbeddedEventLoop()
        let timer = DeadlineTimer(eventLoop: loop)
        let expiries = Expiries()
        let start = loop.now
        timer.arm(in: .seconds(5)) { expiries.times.append(loop.now) }
        loop.advanceTime(by: .seconds(4))
        #expect(expiries.times.isEmpty)
        loop.advanceTime(by: .seconds(1))
        #expect(expiries.times == [start + .seconds(5)])
        loop.advanceTime(by: .seconds(60))
        #expect(expiries.times.count == 1)
    }

    @Test("re-armed for later before it expires, it fires at the later deadline only")
    func rearmLater() {
        let loop = EmbeddedEventLoop()
        let timer = DeadlineTimer(eventLoop: loop)
        let expiries = Expiries()
        let start = loop.now
        timer.arm(in: .seconds(5)) { expiries.times.append(loop.now) }
        loop.advanceTime(by: .seconds(3))
        timer.arm(in: .seconds(5)) { expiries.times.append(loop.now) }
        loop.advanceTime(by: .seconds(4))
        #expect(expiries.times.isEmpty, "the first deadline passed, but the timer was moved")
        loop.advanceTime(by: .seconds(1))
        #expect(expiries.times == [start + .seconds(8)])
    }

    @Test("re-armed for earlier, it fires at the earlier deadline, once")
    func rearmEarlier() {
        let loop = EmbeddedEventLoop()
        let timer = DeadlineTimer(eventLoop: loop)
        let expiries = Expiries()
        let start = loop.now
        timer.arm(in: .seconds(60)) { expiries.times.append(loop.now) }
        timer.arm(in: .seconds(2)) { expiries.times.append(loop.now) }
        loop.advanceTime(by: .seconds(120))
        #expect(expiries.times == [start + .seconds(2)])
    }

    @Test("the latest arming's action is the one that runs")
    func latestActionRuns() {
        let loop = EmbeddedEventLoop()
        let timer = DeadlineTimer(eventLoop: loop)
        var fired: [String] = []
        timer.arm(in: .seconds(1)) { fired.append("first") }
        timer.arm(in: .seconds(2)) { fired.append("second") }
        loop.advanceTime(by: .seconds(3))
        #expect(fired == ["second"])
    }

    @Test("cancelled, it does not fire; armed again, it does")
    func cancelThenArm() {
        let loop = EmbeddedEventLoop()
        let timer = DeadlineTimer(eventLoop: loop)
        let expiries = Expiries()
        let start = loop.now
        timer.arm(in: .seconds(5)) { expiries.times.append(loop.now) }
        timer.cancel()
        loop.advanceTime(by: .seconds(10))
        #expect(expiries.times.isEmpty)
        timer.arm(in: .seconds(5)) { expiries.times.append(loop.now) }
        loop.advanceTime(by: .seconds(5))
        #expect(expiries.times == [start + .seconds(15)])
    }

    @Test("invalidated, it does not fire, and arming it again does nothing")
    func invalidate() {
        let loop = EmbeddedEventLoop()
        let timer = DeadlineTimer(eventLoop: loop)
        let expiries = Expiries()
        timer.arm(in: .seconds(5)) { expiries.times.append(loop.now) }
        timer.invalidate()
        loop.advanceTime(by: .seconds(10))
        #expect(expiries.times.isEmpty)
        timer.arm(in: .seconds(1)) { expiries.times.append(loop.now) }
        loop.advanceTime(by: .seconds(10))
        #expect(expiries.times.isEmpty)
    }

    @Test("an action may arm the timer again")
    func rearmFromAction() {
        let loop = EmbeddedEventLoop()
        let timer = DeadlineTimer(eventLoop: loop)
        let expiries = Expiries()
        let start = loop.now
        func arm() {
            timer.arm(in: .seconds(1)) {
                expiries.times.append(loop.now)
                if expiries.times.count < 3 { arm() }
            }
        }
        arm()
        loop.advanceTime(by: .seconds(10))
        #expect(expiries.times == [start + .seconds(1), start + .seconds(2), start + .seconds(3)])
    }
}
