import NIOCore
import Testing

@testable import SSERelayCore

@Suite("ServerHealth")
struct ServerHealthTests {
    private static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private static let timeout = TimeAmount.seconds(10)

    private static func health(maxFails: Int = 3) -> ServerHealth {
        ServerHealth(maxFails: maxFails, failTimeout: Self.timeout)
    }

    @Test("maxFails failures in a row take the server out for the fail timeout; fewer do not")
    func failuresInARow() {
        var health = Self.health()
        #expect(health.recordFailure(at: Self.start) == nil)
        #expect(health.recordFailure(at: Self.start) == nil)
        #expect(health.takesTraffic(at: Self.start))
        #expect(health.recordFailure(at: Self.start) == .wentOut)
        #expect(health.state == .out(until: Self.start + Self.timeout))
        #expect(!health.takesTraffic(at: Self.start))
        #expect(!health.takesTraffic(at: Self.start + Self.timeout - .nanoseconds(1)))
        #expect(health.takesTraffic(at: Self.start + Self.timeout), "on trial once the timeout passed")
    }

    @Test("a success clears the count: failures must be in a row")
    func successClearsCount() {
        var health = Self.health()
        for _ in 0..<10 {
            #expect(health.recordFailure(at: Self.start) == nil)
            #expect(health.recordFailure(at: Self.start) == nil)
            #expect(health.recordSuccess(at: Self.start) == nil)
        }
        #expect(health.state == .inRotation(failures: 0))
    }

    @Test("maxFails 1 takes the server out at the first failure")
    func maxFailsOne() {
        var health = Self.health(maxFails: 1)
        #expect(health.recordFailure(at: Self.start) == .wentOut)
    }

    @Test("on trial, a success puts the server back and a failure takes it out again at once")
    func trial() {
        var health = Self.health()
        for _ in 0..<3 { _ = health.recordFailure(at: Self.start) }
        let trial = Self.start + Self.timeout
        var failed = health
        #expect(failed.recordFailure(at: trial) == .wentOut, "one failure on trial is enough")
        #expect(failed.state == .out(until: trial + Self.timeout))
        #expect(health.recordSuccess(at: trial) == .cameBack)
        #expect(health.state == .inRotation(failures: 0))
    }

    @Test("outcomes of requests that started before the server went out change nothing while it is out")
    func lateOutcomesWhileOut() {
        var health = Self.health()
        for _ in 0..<3 { _ = health.recordFailure(at: Self.start) }
        let out = health.state
        let during = Self.start + .seconds(1)
        #expect(health.recordSuccess(at: during) == nil)
        #expect(health.recordFailure(at: during) == nil)
        #expect(health.state == out, "the out period is neither cut short nor stretched")
    }

    @Test("a failed check takes the server out until a check passes, whatever traffic does")
    func activeCheck() {
        var health = Self.health()
        #expect(health.recordCheck(passed: false) == .wentOut)
        #expect(health.takesTrafficFrom == .distantFuture)
        #expect(!health.takesTraffic(at: Self.start + .hours(1000)))
        #expect(health.recordSuccess(at: Self.start) == nil)
        #expect(health.recordFailure(at: Self.start) == nil)
        #expect(health.recordCheck(passed: false) == nil, "a second failed check is no new transition")
        #expect(health.recordCheck(passed: true) == .cameBack)
        #expect(health.state == .inRotation(failures: 0))
        #expect(health.recordCheck(passed: true) == nil)
    }

    @Test("a passing check ends a passive out period early; a failing one turns it into waiting for a check")
    func checkDuringOut() {
        var health = Self.health()
        for _ in 0..<3 { _ = health.recordFailure(at: Self.start) }
        var failing = health
        #expect(failing.recordCheck(passed: false) == nil, "it was out already")
        #expect(failing.state == .failingCheck)
        #expect(!failing.takesTraffic(at: Self.start + Self.timeout), "the fail timeout no longer lets it back")
        #expect(health.recordCheck(passed: true) == .cameBack)
        #expect(health.takesTraffic(at: Self.start))
    }

    @Test("a check keeps the failure count of real traffic when it passes while in")
    func passingCheckWhileIn() {
        var health = Self.health()
        _ = health.recordFailure(at: Self.start)
        #expect(health.recordCheck(passed: true) == nil)
        #expect(health.state == .inRotation(failures: 1))
    }

    @Test("every sequence of outcomes keeps the state consistent with what it reports (model check)")
    func modelCheck() {
        // Every sequence of five outcomes, from three kinds at two times: 6^5 = 7,776 runs.
        enum Outcome: CaseIterable { case failure, success, checkPassed, checkFailed }
        let times = [Self.start, Self.start + Self.timeout + .seconds(1)]
        var runs = 0
        func run(_ steps: [(Outcome, NIODeadline)]) {
            var health = Self.health(maxFails: 2)
            var wasIn = true
            for (outcome, now) in steps {
                let before = health.takesTraffic(at: now)
                let transition: ServerHealth.Transition?
                switch outcome {
                case .failure: transition = health.recordFailure(at: now)
                case .success: transition = health.recordSuccess(at: now)
                case .checkPassed: transition = health.recordCheck(passed: true)
                case .checkFailed: transition = health.recordCheck(passed: false)
                }
                let isIn: Bool
                if case .inRotation = health.state { isIn = true } else { isIn = false }
                switch transition {
                case .wentOut?:
                    #expect(!isIn && !health.takesTraffic(at: now), "went out means out now")
                    #expect(before || wasIn, "only a server taking traffic goes out")
                case .cameBack?:
                    #expect(isIn && !wasIn)
                case nil:
                    if wasIn != isIn {
                        // The only silent change: out passively, then failing a check.
                        #expect(health.state == .failingCheck)
                    }
                }
                wasIn = isIn
            }
            runs += 1
        }
        func all(_ prefix: [(Outcome, NIODeadline)]) {
            guard prefix.count < 5 else { return run(prefix) }
            for outcome in Outcome.allCases {
                for time in times where outcome == .failure || outcome == .success || time == times[0] {
                    all(prefix + [(outcome, time)])
                }
            }
        }
        all([])
        #expect(runs == 7776)
    }
}
