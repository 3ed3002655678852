import Testing

@testable import SSERelay

/// ``ReadGate`` holds back `read()` while any reason holds and asks for exactly one read when
/// the last reason clears, if one was requested meanwhile.
@Suite("ReadGate")
struct ReadGateTests {
    /// Holds a gate so its mutating calls can be made inside `#expect`, which cannot mutate
    /// a local value.
    final class GateProbe {
        private(set) var gate = ReadGate()

        var isPaused: Bool { self.gate.isPaused }
        var reasons: ReadGate.Reasons { self.gate.reasons }

        func shouldRead() -> Bool { self.gate.shouldRead() }
        func pause(_ reason: ReadGate.Reasons) { self.gate.pause(reason) }
        func resume(_ reason: ReadGate.Reasons) -> Bool { self.gate.resume(reason) }
    }

    /// Every single reason, each on its own.
    static let singleReasons: [ReadGate.Reasons] = [.peerUnwritable, .peerNotReady, .pipelined]

    /// Every order in which the three reasons can be cleared.
    static let clearingOrders: [[ReadGate.Reasons]] = [
        [.peerUnwritable, .peerNotReady, .pipelined],
        [.peerUnwritable, .pipelined, .peerNotReady],
        [.peerNotReady, .peerUnwritable, .pipelined],
        [.peerNotReady, .pipelined, .peerUnwritable],
        [.pipelined, .peerUnwritable, .peerNotReady],
        [.pipelined, .peerNotReady, .peerUnwritable],
    ]

    @Test("reads pass while nothing pauses the gate")
    func readsPassWhenNotPaused() {
        let gate = GateProbe()
        #expect(!gate.isPaused)
        #expect(gate.reasons.isEmpty)
        for _ in 0..<3 {
            #expect(gate.shouldRead())
        }
        // The reads that passed are not remembered as pending.
        #expect(!gate.resume(.peerUnwritable))
    }

    @Test("a read while paused is held and released exactly once", arguments: Self.singleReasons)
    func pausedReadIsReleasedOnce(reason: ReadGate.Reasons) {
        let gate = GateProbe()
        gate.pause(reason)
        #expect(gate.isPaused)
        #expect(gate.reasons == reason)
        #expect(!gate.shouldRead())
        // A second request while paused does not turn into a second read.
        #expect(!gate.shouldRead())

        #expect(gate.resume(reason))
        #expect(!gate.isPaused)
        #expect(!gate.resume(reason))
        #expect(gate.shouldRead())
    }

    @Test("with several reasons, the read is released only when the last one clears", arguments: Self.clearingOrders)
    func allReasonsMustClear(order: [ReadGate.Reasons]) {
        let gate = GateProbe()
        for reason in order.reversed() {
            gate.pause(reason)
        }
        #expect(gate.reasons == [.peerUnwritable, .peerNotReady, .pipelined])
        #expect(!gate.shouldRead())

        for (index, reason) in order.enumerated() {
            let isLast = index == order.count - 1
            #expect(gate.resume(reason) == isLast, "clearing \(reason.rawValue) at step \(index)")
            #expect(gate.isPaused == !isLast)
            #expect(!gate.reasons.contains(reason))
        }
        #expect(gate.shouldRead())
    }

    @Test("a read asked for between two clearings is still released once at the end")
    func readRequestedWhilePartlyCleared() {
        let gate = GateProbe()
        gate.pause([.peerUnwritable, .pipelined])
        #expect(!gate.resume(.pipelined))
        #expect(!gate.shouldRead())
        #expect(gate.resume(.peerUnwritable))
    }

    @Test("resuming a reason that is not set changes nothing", arguments: Self.singleReasons)
    func resumeOfUnsetReason(held: ReadGate.Reasons) {
        let gate = GateProbe()
        gate.pause(held)
        #expect(!gate.shouldRead())
        for other in Self.singleReasons where other != held {
            #expect(!gate.resume(other))
            #expect(gate.reasons == held)
            #expect(gate.isPaused)
        }
        // The pending read survived the no-op resumes.
        #expect(gate.resume(held))
    }

    @Test("resuming an unpaused gate asks for nothing", arguments: Self.singleReasons)
    func resumeOfUnpausedGate(reason: ReadGate.Reasons) {
        let gate = GateProbe()
        #expect(!gate.resume(reason))
        #expect(!gate.isPaused)
        #expect(gate.shouldRead())
    }

    @Test("without a read requested while paused, resume asks for nothing", arguments: Self.singleReasons)
    func noPendingRead(reason: ReadGate.Reasons) {
        let gate = GateProbe()
        #expect(gate.shouldRead())
        gate.pause(reason)
        #expect(!gate.resume(reason))
        #expect(!gate.isPaused)
    }

    @Test("a read released by one resume is not released again by the next pause and resume")
    func pendingReadIsConsumed() {
        let gate = GateProbe()
        gate.pause(.peerNotReady)
        #expect(!gate.shouldRead())
        #expect(gate.resume(.peerNotReady))

        gate.pause(.peerNotReady)
        #expect(!gate.resume(.peerNotReady))
    }

    @Test("pausing twice for the same reason is one reason: one resume clears it")
    func reasonsAreASetNotACount() {
        let gate = GateProbe()
        gate.pause(.peerUnwritable)
        gate.pause(.peerUnwritable)
        #expect(!gate.shouldRead())
        #expect(gate.resume(.peerUnwritable))
        #expect(!gate.isPaused)
    }

    @Test("resuming several reasons at once clears them together")
    func resumeOfCombinedReasons() {
        let gate = GateProbe()
        gate.pause([.peerUnwritable, .peerNotReady, .pipelined])
        #expect(!gate.shouldRead())
        #expect(!gate.resume([.peerUnwritable, .peerNotReady]))
        #expect(gate.reasons == .pipelined)
        #expect(gate.resume([.pipelined, .peerUnwritable]))
        #expect(gate.reasons.isEmpty)
    }
}
