import NIOCore
import NIOHTTP1
import SSERelayCore
import Testing

@testable import SSERelay

/// ``ProxyConnectionStateMachine`` without a channel: request parts, response ends, timers,
/// quiesce and errors in, actions out.
@Suite("ProxyConnectionStateMachine")
struct ProxyConnectionStateMachineTests {
    typealias Machine = ProxyConnectionStateMachine

    private static func head(
        _ method: HTTPMethod = .GET, _ uri: String = "/", version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = [:]
    ) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: version, method: method, uri: uri, headers: headers))
    }

    private static func body(_ text: String) -> HTTPServerRequestPart {
        .body(ByteBuffer(string: text))
    }

    /// A short name for an action, to compare in tables.
    private static func name(_ action: Machine.Action?) -> String {
        switch action {
        case nil: "nil"
        case .none?: "none"
        case .read?: "read"
        case .startExchange(let head)?: "start \(head.uri)"
        case .forwardBody(let body)?: "body \(String(buffer: body))"
        case .forwardEnd?: "end"
        case .respondAndClose(let response, let version)?: "respond \(response.status.code) \(version) and close"
        case .close?: "close"
        }
    }

    /// Feeds `parts` and returns the machine with the names of the actions.
    private static func feed(_ parts: [HTTPServerRequestPart], to machine: inout Machine) -> [String] {
        parts.map { Self.name(machine.requestPartReceived($0)) }
    }

    @Test("a request's parts start the exchange, then go on as body and end")
    func requestParts() {
        var machine = Machine()
        let actions = Self.feed([Self.head(.POST, "/upload"), Self.body("abc"), .end(nil)], to: &machine)
        #expect(actions == ["start /upload", "body abc", "end"])
        #expect(machine.requestEnded)
        #expect(machine.isAwaitingResponse)
    }

    @Test("a stream request's body is dropped; only its end counts")
    func streamRequestDropsBody() {
        var machine = Machine()
        _ = machine.requestPartReceived(Self.head())
        machine.exchangeIsStream()
        #expect(Self.feed([Self.body("ignored"), .end(nil)], to: &machine) == ["none", "none"])
        #expect(machine.requestEnded)
    }

    /// Which requests and responses leave the connection open after the response.
    @Test(
        "keep-alive after the response",
        arguments: [
            // (version, request headers, response allows keep-alive, stream, expected)
            (HTTPVersion.http1_1, [(String, String)](), true, false, true),
            (.http1_1, [("Connection", "close")], true, false, false),
            (.http1_1, [], false, false, false),
            (.http1_0, [], true, false, false),
            (.http1_0, [("Connection", "keep-alive")], true, false, true),
            // An HTTP/1.0 stream is delimited by the close.
            (.http1_0, [("Connection", "keep-alive")], true, true, false),
            // An HTTP/1.0 message with Transfer-Encoding has faulty framing.
            (.http1_0, [("Connection", "keep-alive"), ("Transfer-Encoding", "chunked")], true, false, false),
            // An upgrade request stops the client's parser.
            (.http1_1, [("Connection", "upgrade"), ("Upgrade", "websocket")], true, false, false),
        ] as [(HTTPVersion, [(String, String)], Bool, Bool, Bool)])
    func keepAlive(
        version: HTTPVersion, headers: [(String, String)], responseAllows: Bool, isStream: Bool, expected: Bool
    ) {
        var machine = Machine()
        _ = machine.requestPartReceived(Self.head(version: version, headers: HTTPHeaders(headers)))
        if isStream { machine.exchangeIsStream() }
        _ = machine.requestPartReceived(.end(nil))
        let keepsAlive = machine.responseWillStart(canKeepAlive: responseAllows)
        #expect(keepsAlive == expected)
        let end = machine.responseEnded()
        #expect(end == (expected ? .keepOpen(readNow: false) : .close(lingering: false)))
        if expected {
            let action = machine.requestPartReceived(Self.head(.GET, "/next"))
            #expect(Self.name(action) == "start /next")
        }
    }

    @Test("a response that ends before its request closes the connection, lingering")
    func responseBeforeRequestEnd() {
        var machine = Machine()
        _ = machine.requestPartReceived(Self.head(.POST, "/upload"))
        let keepsAlive = machine.relayAnswerWillStart()
        #expect(keepsAlive == false, "unread body bytes would be parsed as a request")
        let end = machine.responseEnded()
        #expect(end == .close(lingering: true))
        let reads = machine.readRequested()
        #expect(reads, "a closing connection reads and discards")
        let action = machine.requestPartReceived(Self.body("late"))
        #expect(Self.name(action) == "none")
    }

    @Test("pipelined requests wait, in order, with reads paused, and are served after the response")
    func pipelining() {
        var machine = Machine()
        #expect(Self.feed([Self.head(.GET, "/1"), .end(nil)], to: &machine) == ["start /1", "end"])
        #expect(
            Self.feed([Self.head(.GET, "/2"), .end(nil), Self.head(.GET, "/3")], to: &machine) == [
                "none", "none", "none",
            ])
        let reads = machine.readRequested()
        #expect(!reads, "reads pause while requests wait")
        let keepsAlive = machine.responseWillStart(canKeepAlive: true)
        #expect(keepsAlive)
        let end = machine.responseEnded()
        #expect(end == .keepOpen(readNow: false))
        // The second request is served; the third waits for its response.
        var served: [String] = []
        while let action = machine.nextPipelinedAction() { served.append(Self.name(action)) }
        #expect(served == ["start /2", "end"])
        let keepsAliveAgain = machine.responseWillStart(canKeepAlive: true)
        #expect(keepsAliveAgain)
        let endAgain = machine.responseEnded()
        #expect(endAgain == .keepOpen(readNow: false))
        served = []
        while let action = machine.nextPipelinedAction() { served.append(Self.name(action)) }
        // The held-back read is issued once nothing waits any more.
        #expect(served == ["start /3", "read"])
        let readsAgain = machine.readRequested()
        #expect(readsAgain)
    }

    @Test("reads pause for each reason and resume when the last one clears")
    func readGating() {
        var machine = Machine()
        _ = machine.requestPartReceived(Self.head(.POST, "/upload"))
        machine.pauseReading(.peerNotReady)
        machine.pauseReading(.peerUnwritable)
        let reads = machine.readRequested()
        #expect(!reads)
        let readsNow = machine.resumeReading(.peerNotReady)
        #expect(!readsNow)
        let readsNowAgain = machine.resumeReading(.peerUnwritable)
        #expect(readsNowAgain, "the held-back read is issued")
        let readsAgain = machine.readRequested()
        #expect(readsAgain)
    }

    @Test("the end of a keep-alive response issues a read held back for the exchange")
    func responseEndResumesReads() {
        var machine = Machine()
        _ = Self.feed([Self.head(.POST, "/upload"), .end(nil)], to: &machine)
        machine.pauseReading(.peerUnwritable)
        let reads = machine.readRequested()
        #expect(!reads)
        _ = machine.responseWillStart(canKeepAlive: true)
        let end = machine.responseEnded()
        #expect(end == .keepOpen(readNow: true))
    }

    @Test("the header wait: 408 before the first request, a silent close between requests")
    func headerWait() {
        var first = Machine()
        let action = first.headerWaitExpired()
        #expect(Self.name(action) == "respond 408 HTTP/1.1 and close")
        let actionAgain = first.headerWaitExpired()
        #expect(Self.name(actionAgain) == "none", "fires once")

        var later = Machine()
        _ = Self.feed([Self.head(), .end(nil)], to: &later)
        _ = later.responseWillStart(canKeepAlive: true)
        _ = later.responseEnded()
        let actionThen = later.headerWaitExpired()
        #expect(Self.name(actionThen) == "close")

        var busy = Machine()
        _ = busy.requestPartReceived(Self.head())
        let actionFinally = busy.headerWaitExpired()
        #expect(Self.name(actionFinally) == "none", "a request in flight is not waiting")
    }

    @Test("quiesce closes an idle connection at once and a busy one after its response")
    func quiesce() {
        var idle = Machine()
        let action = idle.quiesce()
        #expect(Self.name(action) == "close")

        var busy = Machine()
        _ = Self.feed([Self.head(), .end(nil)], to: &busy)
        let actionAgain = busy.quiesce()
        #expect(Self.name(actionAgain) == "none")
        let keepsAlive = busy.responseWillStart(canKeepAlive: true)
        #expect(keepsAlive == false, "the head says close")
        let end = busy.responseEnded()
        #expect(end == .close(lingering: false))
    }

    @Test("a malformed request: answered before a response, cut after, ignored while closing")
    func malformed() {
        let response = ErrorResponse(status: .badRequest, message: "malformed")
        var idle = Machine()
        let action = idle.requestMalformed(answering: response)
        #expect(Self.name(action) == "respond 400 HTTP/1.1 and close")
        let actionAgain = idle.requestMalformed(answering: response)
        #expect(Self.name(actionAgain) == "none", "the rest, read while lingering")

        var beforeResponse = Machine()
        _ = beforeResponse.requestPartReceived(Self.head(.POST, "/", version: .http1_0))
        #expect(
            Self.name(beforeResponse.requestMalformed(answering: response)) == "respond 400 HTTP/1.0 and close")

        var afterResponse = Machine()
        _ = afterResponse.requestPartReceived(Self.head(.POST, "/"))
        _ = afterResponse.responseWillStart(canKeepAlive: true)
        let actionThen = afterResponse.requestMalformed(answering: response)
        #expect(Self.name(actionThen) == "close")

        var tunnel = Machine()
        _ = tunnel.requestPartReceived(Self.head())
        tunnel.upgraded()
        let actionFinally = tunnel.requestMalformed(answering: response)
        #expect(Self.name(actionFinally) == "close")
    }

    @Test("an exchange that fails: its answer before the response, a cut after")
    func exchangeFailure() {
        let response = ErrorResponse(status: .payloadTooLarge, message: "too large")
        var before = Machine()
        _ = before.requestPartReceived(Self.head(.POST, "/"))
        let action = before.exchangeFailed(answering: response)
        #expect(Self.name(action) == "respond 413 HTTP/1.1 and close")

        var after = Machine()
        _ = after.requestPartReceived(Self.head(.POST, "/"))
        _ = after.responseWillStart(canKeepAlive: true)
        let actionAgain = after.exchangeFailed(answering: response)
        #expect(Self.name(actionAgain) == "close")
        let actionThen = after.exchangeFailed(answering: response)
        #expect(Self.name(actionThen) == "none", "once closing, nothing more")
    }

    @Test("a closed connection reports the exchange in flight once")
    func connectionClosed() {
        var machine = Machine()
        let hadExchange = machine.connectionClosed()
        #expect(!hadExchange, "nothing in flight while idle")
        var busy = Machine()
        _ = busy.requestPartReceived(Self.head())
        let hadExchangeAgain = busy.connectionClosed()
        #expect(hadExchangeAgain)
        let hadExchangeThen = busy.connectionClosed()
        #expect(!hadExchangeThen)
        let action = busy.requestPartReceived(Self.head())
        #expect(Self.name(action) == "none")
    }

    @Test("a tunnel takes no more HTTP")
    func tunnel() {
        var machine = Machine()
        _ = machine.requestPartReceived(Self.head(headers: ["Connection": "upgrade", "Upgrade": "websocket"]))
        machine.upgraded()
        let action = machine.requestPartReceived(Self.head())
        #expect(Self.name(action) == "none")
        let end = machine.responseEnded()
        #expect(end == .close(lingering: false))
        let next = machine.nextPipelinedAction()
        #expect(next == nil)
    }
}
