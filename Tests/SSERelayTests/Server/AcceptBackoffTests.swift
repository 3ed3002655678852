import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import SSERelay

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The listener's pause after a failed accept, on an `EmbeddedChannel` standing in for the
/// listening socket, with the loop's fake clock. A pause is `autoRead` turned off, which is what
/// makes a real server channel stop watching its socket.
@Suite("AcceptBackoff")
struct AcceptBackoffTests {
    private struct Fixture {
        let channel = EmbeddedChannel()
        let metrics = RelayMetrics()

        init(reserve: DescriptorReserve? = nil) throws {
            try self.channel.pipeline.syncOperations.addHandler(
                AcceptBackoff(
                    listener: "proxy", backoff: .milliseconds(250), reserve: reserve, metrics: self.metrics,
                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        }

        /// Closes the channel, which breaks its cycle with its pipeline (an unfinished
        /// `EmbeddedChannel` leaks both, and LeakSanitizer says so).
        func finish() {
            _ = try? self.channel.finish()
        }

        /// Hands the listener one accepted connection, closed again afterwards.
        func accept() throws {
            let accepted = EmbeddedChannel()
            defer { _ = try? accepted.finish() }
            try self.channel.writeInbound(accepted as any Channel)
        }

        func fail(_ code: CInt) {
            self.channel.pipeline.fireErrorCaught(IOError(errnoCode: code, reason: "accept"))
        }

        func advance(milliseconds: Int64) {
            self.channel.embeddedEventLoop.advanceTime(by: .milliseconds(milliseconds))
        }

        /// The last `autoRead` the handler set; `true` (NIO's default) when it set none.
        var isAccepting: Bool {
            self.channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }
                .map { $0.value as? Bool ?? true } ?? true
        }

        /// Whether the handler ever set `autoRead` (the channel keeps the last value set).
        var everPaused: Bool {
            self.channel.options.contains { $0.option is ChannelOptions.Types.AutoReadOption }
        }

        func acceptErrors(_ reason: String, listener: String = "proxy") throws -> Double? {
            let readings = RelayMetrics.Readings(
                activeGenerations: 0, retainedGenerations: 0, replayBufferBytes: 0, clientConnections: 0,
                process: ProcessFigures.read())
            let exposition = String(decoding: self.metrics.exposition(with: readings), as: UTF8.self)
            return try PrometheusExposition(parsing: exposition).value(
                "sse_relay_accept_errors_total", ["listener": listener, "reason": reason])
        }
    }

    @Test("accepting goes on while accepts succeed")
    func noPauseWithoutErrors() throws {
        let fixture = try Fixture()
        defer { fixture.finish() }
        try fixture.accept()
        #expect(fixture.isAccepting)
        #expect(try fixture.acceptErrors("emfile") == nil)
    }

    @Test("EMFILE and ENFILE pause accepting for the backoff, then accepting resumes", arguments: [EMFILE, ENFILE])
    func pausesAfterDescriptorExhaustion(code: CInt) throws {
        let fixture = try Fixture()
        defer { fixture.finish() }
        fixture.fail(code)
        #expect(!fixture.isAccepting)
        fixture.advance(milliseconds: 249)
        #expect(!fixture.isAccepting)
        fixture.advance(milliseconds: 1)
        #expect(fixture.isAccepting)
        #expect(try fixture.acceptErrors(code == EMFILE ? "emfile" : "enfile") == 1)
    }

    @Test("every failure is counted, and each one after a pause pauses again")
    func countsEveryFailure() throws {
        let fixture = try Fixture()
        defer { fixture.finish() }
        for _ in 0..<5 {
            fixture.fail(EMFILE)
            #expect(!fixture.isAccepting)
            fixture.advance(milliseconds: 250)
            #expect(fixture.isAccepting)
        }
        #expect(try fixture.acceptErrors("emfile") == 5)
    }

    @Test("an error a pause cannot cure goes on down the pipeline, without a pause")
    func otherErrorsPass() throws {
        let fixture = try Fixture()
        defer { fixture.finish() }
        fixture.fail(ECONNABORTED)
        #expect(throws: IOError.self) { try fixture.channel.throwIfErrorCaught() }
        #expect(fixture.isAccepting)
        #expect(!fixture.everPaused)
    }

    @Test("with a reserve, a failure frees a reserved descriptor instead of pausing")
    func reserveFirst() throws {
        let reserve = DescriptorReserve(capacity: 1)
        #expect(reserve.count == 1)
        let fixture = try Fixture(reserve: reserve)
        defer { fixture.finish() }
        fixture.fail(EMFILE)
        #expect(reserve.count == 0)
        #expect(fixture.isAccepting)
        // Reserve empty: the next failure pauses.
        fixture.fail(EMFILE)
        #expect(!fixture.isAccepting)
        fixture.advance(milliseconds: 250)
        #expect(fixture.isAccepting)
        // An accepted connection refills the reserve.
        try fixture.accept()
        #expect(reserve.count == 1)
        #expect(try fixture.acceptErrors("emfile") == 2)
    }

    @Test("removing the handler during a pause resumes accepting")
    func removalResumes() throws {
        let fixture = try Fixture()
        defer { fixture.finish() }
        fixture.fail(EMFILE)
        #expect(!fixture.isAccepting)
        let handler = try fixture.channel.pipeline.syncOperations.handler(type: AcceptBackoff.self)
        try fixture.channel.pipeline.syncOperations.removeHandler(handler).wait()
        #expect(fixture.isAccepting)
    }
}
