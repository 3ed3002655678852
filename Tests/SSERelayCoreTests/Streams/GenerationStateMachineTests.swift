import Testing

@testable import SSERelayCore

@Suite("GenerationStateMachine")
struct GenerationStateMachineTests {
    typealias Machine = GenerationStateMachine

    @Test("the last client leaving starts the linger; a client joining cancels it")
    func lingerAndReturn() {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 60)
        machine.eventDelivered()
        #expect(machine.state == .active)
        #expect(machine.clientJoined() == .none)
        #expect(machine.clientJoined() == .none)
        #expect(machine.clientLeft() == .none)
        #expect(machine.state == .active)
        #expect(machine.clientLeft() == .startLingerTimer(seconds: 300))
        #expect(machine.state == .lingering)
        #expect(machine.clientJoined() == .cancelLingerTimer)
        #expect(machine.state == .active)
        #expect(machine.clientCount == 1)
    }

    @Test("nobody returning before the linger ends cancels the upstream; the generation failed")
    func lingerExpires() {
        var machine = Machine(lingerSeconds: 5, retainSeconds: 60)
        machine.eventDelivered()
        _ = machine.clientJoined()
        _ = machine.clientLeft()
        #expect(machine.lingerExpired() == .cancelUpstream(retainSeconds: 60))
        #expect(machine.state == .failed)
        #expect(!machine.isUpstreamOpen)
        #expect(machine.retentionExpired() == .discard)
        #expect(machine.state == .discarded)
    }

    @Test("a null linger runs the upstream to completion with no client")
    func runToCompletion() {
        var machine = Machine(lingerSeconds: nil, retainSeconds: 60)
        machine.eventDelivered()
        _ = machine.clientJoined()
        #expect(machine.clientLeft() == .none)
        #expect(machine.state == .lingering)
        #expect(machine.clientJoined() == .none)
        #expect(machine.state == .active)
        _ = machine.clientLeft()
        #expect(machine.upstreamEnded() == .startRetentionTimer(seconds: 60))
        #expect(machine.state == .finished)
    }

    @Test(
        "an upstream that ends or fails is retained, whether clients are attached or not",
        arguments: [
            (true, true), (true, false), (false, true), (false, false),
        ])
    func upstreamEnds(cleanly: Bool, withClients: Bool) {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 30)
        machine.eventDelivered()
        _ = machine.clientJoined()
        if !withClients { _ = machine.clientLeft() }
        let action = cleanly ? machine.upstreamEnded() : machine.upstreamFailed()
        #expect(action == .startRetentionTimer(seconds: 30))
        #expect(machine.state == (cleanly ? .finished : .failed))
        // Later inputs of an ended upstream change nothing.
        #expect(machine.upstreamEnded() == .none)
        #expect(machine.upstreamFailed() == .none)
        #expect(machine.lingerExpired() == .none)
        #expect(machine.clientJoined() == .none)
        #expect(machine.clientLeft() == .none)
        #expect(machine.state == (cleanly ? .finished : .failed))
    }

    @Test("a late linger timer after a client returned does nothing")
    func staleLingerTimer() {
        var machine = Machine(lingerSeconds: 1, retainSeconds: 30)
        machine.eventDelivered()
        _ = machine.clientJoined()
        _ = machine.clientLeft()
        _ = machine.clientJoined()
        #expect(machine.lingerExpired() == .none)
        #expect(machine.state == .active)
    }

    @Test("a rejected upstream answer discards the generation at once")
    func rejected() {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 30)
        _ = machine.clientJoined()
        #expect(machine.upstreamRejected() == .discard)
        #expect(machine.state == .discarded)
        #expect(machine.upstreamRejected() == .none)
        #expect(machine.retentionExpired() == .none)
    }

    @Test("retention and eviction only discard an ended generation")
    func retention() {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 30)
        #expect(machine.retentionExpired() == .none)
        #expect(machine.evicted() == .none)
        _ = machine.upstreamFailed()
        #expect(machine.evicted() == .discard)
        #expect(machine.state == .discarded)
    }

    @Test("retention that ends while clients still read the last events waits for the last to leave")
    func retentionWaitsForAttachedClients() {
        for retain in [0.0, 30] {
            var machine = Machine(lingerSeconds: 300, retainSeconds: retain)
            _ = machine.clientJoined()
            _ = machine.clientJoined()
            machine.eventDelivered()
            #expect(machine.upstreamEnded() == .startRetentionTimer(seconds: retain))
            #expect(machine.retentionExpired() == .none, "two clients are still writing")
            #expect(machine.state == .finished)
            #expect(machine.retentionIsOver)
            #expect(machine.clientLeft() == .none)
            #expect(machine.clientLeft() == .discard, "the last one leaving discards it")
            #expect(machine.state == .discarded)
            #expect(machine.clientLeft() == .none)
        }
    }

    @Test("eviction discards an ended generation even while clients are attached")
    func evictionWithClients() {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 30)
        _ = machine.clientJoined()
        _ = machine.upstreamFailed()
        #expect(machine.evicted() == .discard)
        #expect(machine.state == .discarded)
        #expect(machine.clientLeft() == .none)
    }

    @Test("clients that leave an ended generation before its retention is over do not discard it")
    func leavingBeforeRetentionEnds() {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 30)
        _ = machine.clientJoined()
        machine.eventDelivered()
        _ = machine.upstreamEnded()
        #expect(machine.clientLeft() == .none)
        #expect(machine.state == .finished, "retained for clients that come back")
        #expect(machine.retentionExpired() == .discard)
    }

    @Test("the client count never goes below zero")
    func clientCount() {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 30)
        machine.eventDelivered()
        #expect(machine.clientLeft() == .startLingerTimer(seconds: 300))
        #expect(machine.clientLeft() == .none)
        #expect(machine.clientCount == 0)
    }

    @Test("clients that all leave before any event reached one of them abandon the upstream at once")
    func abandonedBeforeDelivery() {
        for linger in [300, nil] as [Double?] {
            var machine = Machine(lingerSeconds: linger, retainSeconds: 30)
            _ = machine.clientJoined()
            _ = machine.clientJoined()
            #expect(machine.clientLeft() == .none)
            #expect(machine.clientLeft() == .abandonUpstream)
            #expect(machine.state == .discarded)
            #expect(!machine.isUpstreamOpen)
            // Nothing later brings it back or retains it.
            #expect(machine.lingerExpired() == .none)
            #expect(machine.upstreamEnded() == .none)
            #expect(machine.retentionExpired() == .none)
        }
    }

    @Test("once an event was delivered, the last client leaving lingers")
    func deliveredThenLingers() {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 30)
        _ = machine.clientJoined()
        machine.eventDelivered()
        #expect(machine.hasDelivered)
        #expect(machine.clientLeft() == .startLingerTimer(seconds: 300))
        #expect(machine.state == .lingering)
    }

    @Test("a refused linger cancels the upstream like an expired one; outside lingering it does nothing")
    func lingerRefused() {
        var machine = Machine(lingerSeconds: 300, retainSeconds: 30)
        _ = machine.clientJoined()
        #expect(machine.lingerRefused() == .none)
        machine.eventDelivered()
        _ = machine.clientLeft()
        #expect(machine.lingerRefused() == .cancelUpstream(retainSeconds: 30))
        #expect(machine.state == .failed)
        #expect(machine.lingerRefused() == .none)
    }
}
