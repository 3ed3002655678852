import Testing

@testable import SSERelayCore

/// Generation tokens of the table (and of the tests beside it): three that rows hold, and one
/// that no row holds.
let tokenA = "aaaaaaaaaaaaaaaa"
let tokenB = "bbbbbbbbbbbbbbbb"
let tokenC = "0123456789abcdef"
let unknownToken = "ffffffffffffffff"

/// One row of the table: a request, the generations held for its key, and the only right answer.
struct ResolutionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var lastEventID: String?
    var generations: [FakeGeneration]
    var joinFrom: StreamRouteConfiguration.JoinPosition = .start
    var afterFailure: StreamRouteConfiguration.FailureRecovery = .stop
    var expected: StreamRequestResolution

    var testDescription: String { self.name }
}

let resolutionCases: [ResolutionCase] = [
    // A failed generation: never presented as finished.
    ResolutionCase(
        name: "stop: relay id of a failed generation with events after it: resume (then the failure event)",
        lastEventID: "\(tokenA)-3", generations: [.failed(tokenA, next: 6)],
        expected: .resume(token: tokenA, cursor: 4)),
    ResolutionCase(
        name:
            "stop: relay id of the last event of a failed generation: resume at its head (the failure event), not 204",
        lastEventID: "\(tokenA)-5", generations: [.failed(tokenA, next: 6)],
        expected: .resume(token: tokenA, cursor: 6)),
    ResolutionCase(
        name: "stop: failure marker, generation unknown here: 204",
        lastEventID: "\(unknownToken)-5.failed", generations: [],
        expected: .noContent),
    ResolutionCase(
        name: "stop: failure marker while a newer generation is open: 204",
        lastEventID: "\(tokenA)-5.failed", generations: [.failed(tokenA, next: 6), .open(tokenB, next: 2)],
        expected: .noContent),
    ResolutionCase(
        name: "stop: upstream id of a failed generation: resume after it",
        lastEventID: "up-2", generations: [.failed(tokenA, next: 6, ids: ["up-2": 2])],
        expected: .resume(token: tokenA, cursor: 3)),
    ResolutionCase(
        name: "restart: failure marker, no open generation: start, no replay miss",
        lastEventID: "\(tokenA)-5.failed", generations: [.failed(tokenA, next: 6)], afterFailure: .restart,
        expected: .start(forwardedLastEventID: nil, replayMiss: false)),
    ResolutionCase(
        name: "restart: failure marker with an open generation: join it",
        lastEventID: "\(tokenA)-5.failed", generations: [.failed(tokenA, next: 6), .open(tokenB, next: 3)],
        afterFailure: .restart,
        expected: .join(token: tokenB, cursor: 1, replayMiss: false)),
    ResolutionCase(
        name: "restart: relay id inside a failed generation: start anew, its events are not served",
        lastEventID: "\(tokenA)-3", generations: [.failed(tokenA, next: 6)], afterFailure: .restart,
        expected: .start(forwardedLastEventID: nil, replayMiss: false)),
    ResolutionCase(
        name: "restart: upstream id of a failed generation: start anew without forwarding it",
        lastEventID: "up-2", generations: [.failed(tokenA, next: 6, ids: ["up-2": 2])], afterFailure: .restart,
        expected: .start(forwardedLastEventID: nil, replayMiss: false)),
    ResolutionCase(
        name: "restart: relay id of a finished generation still resumes (only failures restart)",
        lastEventID: "\(tokenA)-3", generations: [.ended(tokenA, next: 6)], afterFailure: .restart,
        expected: .resume(token: tokenA, cursor: 4)),
    ResolutionCase(
        name: "restart: the last id of a finished generation still gets 204",
        lastEventID: "\(tokenA)-5", generations: [.ended(tokenA, next: 6)], afterFailure: .restart,
        expected: .noContent),
    // End markers: the client has every event of a finished generation.
    ResolutionCase(
        name: "end marker, generation unknown here (another relay, or retention over): 204",
        lastEventID: "\(unknownToken)-7.end", generations: [],
        expected: .noContent),
    ResolutionCase(
        name: "end marker of the retained generation: 204",
        lastEventID: "\(tokenA)-3.end", generations: [.ended(tokenA, next: 4)],
        expected: .noContent),
    ResolutionCase(
        name: "end marker while a newer generation of the key is open: 204, the old stream is over",
        lastEventID: "\(tokenA)-3.end", generations: [.open(tokenB, next: 2)],
        expected: .noContent),
    ResolutionCase(
        name: "not quite an end marker (bad token): an upstream id, start forwarding it",
        lastEventID: "xyz-3.end", generations: [],
        expected: .start(forwardedLastEventID: "xyz-3.end", replayMiss: false)),
    // No usable Last-Event-ID.
    ResolutionCase(
        name: "no id, no generation: start",
        lastEventID: nil, generations: [],
        expected: .start(forwardedLastEventID: nil, replayMiss: false)),
    ResolutionCase(
        name: "no id, no generation, joinFrom live: start",
        lastEventID: nil, generations: [], joinFrom: .live,
        expected: .start(forwardedLastEventID: nil, replayMiss: false)),
    ResolutionCase(
        name: "no id, only ended generations: start",
        lastEventID: nil, generations: [.ended(tokenA, next: 4), .ended(tokenB, next: 9)],
        expected: .start(forwardedLastEventID: nil, replayMiss: false)),
    ResolutionCase(
        name: "no id, open generation, joinFrom start: join at its first event",
        lastEventID: nil, generations: [.open(tokenA, next: 6)],
        expected: .join(token: tokenA, cursor: 1, replayMiss: false)),
    ResolutionCase(
        name: "no id, open generation, joinFrom live: join at its live end",
        lastEventID: nil, generations: [.open(tokenA, next: 6)], joinFrom: .live,
        expected: .join(token: tokenA, cursor: 6, replayMiss: false)),
    ResolutionCase(
        name: "no id, open generation with evicted events: join at the oldest retained",
        lastEventID: nil, generations: [.open(tokenA, first: 4, next: 10)],
        expected: .join(token: tokenA, cursor: 4, replayMiss: false)),
    ResolutionCase(
        name: "no id, open generation without events yet: join at 1",
        lastEventID: nil, generations: [.open(tokenA, next: 1)],
        expected: .join(token: tokenA, cursor: 1, replayMiss: false)),
    ResolutionCase(
        name: "empty id, no generation: start without forwarding it",
        lastEventID: "", generations: [],
        expected: .start(forwardedLastEventID: nil, replayMiss: false)),
    ResolutionCase(
        name: "empty id, open generation: join, no replay miss",
        lastEventID: "", generations: [.open(tokenA, next: 6)],
        expected: .join(token: tokenA, cursor: 1, replayMiss: false)),
    ResolutionCase(
        name: "empty id, open generation, joinFrom live: join live",
        lastEventID: "", generations: [.open(tokenA, next: 6)], joinFrom: .live,
        expected: .join(token: tokenA, cursor: 6, replayMiss: false)),

    // A relay id of a retained generation.
    ResolutionCase(
        name: "relay id of an open generation: resume after it",
        lastEventID: "\(tokenA)-3", generations: [.open(tokenA, next: 6)],
        expected: .resume(token: tokenA, cursor: 4)),
    ResolutionCase(
        name: "relay id of an open generation, joinFrom live: still resume after it",
        lastEventID: "\(tokenA)-3", generations: [.open(tokenA, next: 6)], joinFrom: .live,
        expected: .resume(token: tokenA, cursor: 4)),
    ResolutionCase(
        name: "relay id of an ended generation with events after it: resume",
        lastEventID: "\(tokenA)-3", generations: [.ended(tokenA, next: 6)],
        expected: .resume(token: tokenA, cursor: 4)),
    ResolutionCase(
        name: "relay id of the last event of an ended generation: 204",
        lastEventID: "\(tokenA)-5", generations: [.ended(tokenA, next: 6)],
        expected: .noContent),
    ResolutionCase(
        name: "relay id of the last event of an open generation: resume live",
        lastEventID: "\(tokenA)-5", generations: [.open(tokenA, next: 6)],
        expected: .resume(token: tokenA, cursor: 6)),
    ResolutionCase(
        name: "relay id whose own event was evicted but every later one kept: resume",
        lastEventID: "\(tokenA)-3", generations: [.ended(tokenA, first: 4, next: 10)],
        expected: .resume(token: tokenA, cursor: 4)),
    ResolutionCase(
        name: "relay id of the last event of an ended generation whose buffer is empty: 204",
        lastEventID: "\(tokenA)-9", generations: [.ended(tokenA, first: 10, next: 10)],
        expected: .noContent),

    // The priming id `<token>-0`.
    ResolutionCase(
        name: "priming id of an open generation: resume from 1",
        lastEventID: "\(tokenA)-0", generations: [.open(tokenA, next: 6)],
        expected: .resume(token: tokenA, cursor: 1)),
    ResolutionCase(
        name: "priming id of an open generation without events yet: resume from 1",
        lastEventID: "\(tokenA)-0", generations: [.open(tokenA, next: 1)],
        expected: .resume(token: tokenA, cursor: 1)),
    ResolutionCase(
        name: "priming id of an ended generation with events: resume from 1",
        lastEventID: "\(tokenA)-0", generations: [.ended(tokenA, next: 6)],
        expected: .resume(token: tokenA, cursor: 1)),
    ResolutionCase(
        name: "priming id of an ended generation without events: 204",
        lastEventID: "\(tokenA)-0", generations: [.ended(tokenA, next: 1)],
        expected: .noContent),
    ResolutionCase(
        name: "priming id of an ended generation whose first event was evicted: replay miss, start",
        lastEventID: "\(tokenA)-0", generations: [.ended(tokenA, first: 2, next: 6)],
        expected: .start(forwardedLastEventID: nil, replayMiss: true)),

    // A relay id that cannot be served.
    ResolutionCase(
        name: "relay id with events after it evicted, no open generation: replay miss, start",
        lastEventID: "\(tokenA)-2", generations: [.ended(tokenA, first: 5, next: 10)],
        expected: .start(forwardedLastEventID: nil, replayMiss: true)),
    ResolutionCase(
        name: "relay id with events after it evicted, another generation open: replay miss, join it",
        lastEventID: "\(tokenA)-2", generations: [.ended(tokenA, first: 5, next: 10), .open(tokenB, next: 3)],
        expected: .join(token: tokenB, cursor: 1, replayMiss: true)),
    ResolutionCase(
        name: "relay id with events after it evicted, another generation open, joinFrom live: join live",
        lastEventID: "\(tokenA)-2", generations: [.ended(tokenA, first: 5, next: 10), .open(tokenB, next: 3)],
        joinFrom: .live,
        expected: .join(token: tokenB, cursor: 3, replayMiss: true)),
    ResolutionCase(
        name: "relay id with events after it evicted from the open generation itself: join it",
        lastEventID: "\(tokenA)-2", generations: [.open(tokenA, first: 5, next: 10)],
        expected: .join(token: tokenA, cursor: 5, replayMiss: true)),
    ResolutionCase(
        name: "relay id of an unknown generation, nothing held: replay miss, start",
        lastEventID: "\(unknownToken)-3", generations: [],
        expected: .start(forwardedLastEventID: nil, replayMiss: true)),
    ResolutionCase(
        name: "relay id of an unknown generation, only ended ones held: replay miss, start",
        lastEventID: "\(unknownToken)-3", generations: [.ended(tokenA, next: 6)],
        expected: .start(forwardedLastEventID: nil, replayMiss: true)),
    ResolutionCase(
        name: "relay id of an unknown generation, one open: replay miss, join it",
        lastEventID: "\(unknownToken)-3", generations: [.ended(tokenA, next: 6), .open(tokenB, next: 4)],
        expected: .join(token: tokenB, cursor: 1, replayMiss: true)),
    ResolutionCase(
        name: "relay id one past the last given out, ended generation: replay miss, start",
        lastEventID: "\(tokenA)-6", generations: [.ended(tokenA, next: 6)],
        expected: .start(forwardedLastEventID: nil, replayMiss: true)),
    ResolutionCase(
        name: "relay id one past the last given out, open generation: replay miss, join it",
        lastEventID: "\(tokenA)-6", generations: [.open(tokenA, next: 6)], joinFrom: .live,
        expected: .join(token: tokenA, cursor: 6, replayMiss: true)),
    ResolutionCase(
        name: "relay id far beyond the last given out: replay miss",
        lastEventID: "\(tokenA)-999999999999999999", generations: [.ended(tokenA, next: 6)],
        expected: .start(forwardedLastEventID: nil, replayMiss: true)),

    // An upstream id.
    ResolutionCase(
        name: "upstream id in an ended generation with events after it: resume",
        lastEventID: "msg-3", generations: [.ended(tokenA, next: 6, ids: ["msg-3": 3])],
        expected: .resume(token: tokenA, cursor: 4)),
    ResolutionCase(
        name: "upstream id of the last event of an ended generation: 204",
        lastEventID: "msg-5", generations: [.ended(tokenA, next: 6, ids: ["msg-5": 5])],
        expected: .noContent),
    ResolutionCase(
        name: "upstream id of the last event of an open generation: resume live",
        lastEventID: "msg-5", generations: [.open(tokenA, next: 6, ids: ["msg-5": 5])], joinFrom: .start,
        expected: .resume(token: tokenA, cursor: 6)),
    ResolutionCase(
        name: "upstream id in two generations: the newer wins",
        lastEventID: "7",
        generations: [.ended(tokenA, next: 9, ids: ["7": 2]), .open(tokenB, next: 5, ids: ["7": 3])],
        expected: .resume(token: tokenB, cursor: 4)),
    ResolutionCase(
        name: "upstream id in two ended generations: the newer wins even when it has nothing after it",
        lastEventID: "7",
        generations: [.ended(tokenA, next: 9, ids: ["7": 2]), .ended(tokenB, next: 4, ids: ["7": 3])],
        expected: .noContent),
    ResolutionCase(
        name: "upstream id only in an older ended generation while another is open: resume the older",
        lastEventID: "7",
        generations: [.ended(tokenA, next: 9, ids: ["7": 2]), .open(tokenB, next: 5, ids: ["1": 1])],
        expected: .resume(token: tokenA, cursor: 3)),
    ResolutionCase(
        name: "upstream id unknown, nothing held: start and forward it",
        lastEventID: "msg-9", generations: [],
        expected: .start(forwardedLastEventID: "msg-9", replayMiss: false)),
    ResolutionCase(
        name: "upstream id unknown, only ended generations: start and forward it",
        lastEventID: "msg-9", generations: [.ended(tokenA, next: 6, ids: ["msg-1": 1])],
        expected: .start(forwardedLastEventID: "msg-9", replayMiss: false)),
    ResolutionCase(
        name: "upstream id unknown, a generation open: join it without forwarding, no replay miss",
        lastEventID: "msg-9", generations: [.ended(tokenA, next: 6), .open(tokenB, next: 4, ids: ["msg-1": 1])],
        expected: .join(token: tokenB, cursor: 1, replayMiss: false)),
    ResolutionCase(
        name: "upstream id unknown, a generation open, joinFrom live: join it live",
        lastEventID: "msg-9", generations: [.open(tokenB, next: 4)], joinFrom: .live,
        expected: .join(token: tokenB, cursor: 4, replayMiss: false)),
    ResolutionCase(
        name: "id shaped almost like a relay id (upper-case hex) is an upstream id",
        lastEventID: "AAAAAAAAAAAAAAAA-2", generations: [.ended(tokenA, next: 6, ids: ["AAAAAAAAAAAAAAAA-2": 2])],
        expected: .resume(token: tokenA, cursor: 3)),
    ResolutionCase(
        name: "unknown id shaped almost like a relay id is forwarded",
        lastEventID: "\(tokenA)-x", generations: [.ended(tokenA, next: 6)],
        expected: .start(forwardedLastEventID: "\(tokenA)-x", replayMiss: false)),

    // Several generations: older ended ones and one open.
    ResolutionCase(
        name: "several generations, relay id of the middle one: resume it",
        lastEventID: "\(tokenB)-2",
        generations: [.ended(tokenA, next: 5), .ended(tokenB, next: 4), .open(tokenC, next: 3)],
        expected: .resume(token: tokenB, cursor: 3)),
    ResolutionCase(
        name: "several generations, last relay id of the oldest: 204, not the open one",
        lastEventID: "\(tokenA)-4",
        generations: [.ended(tokenA, next: 5), .ended(tokenB, next: 4), .open(tokenC, next: 3)],
        expected: .noContent),
    ResolutionCase(
        name: "several generations, relay id of the open one: resume it",
        lastEventID: "\(tokenC)-1",
        generations: [.ended(tokenA, next: 5), .ended(tokenB, next: 4), .open(tokenC, next: 3)],
        expected: .resume(token: tokenC, cursor: 2)),
    ResolutionCase(
        name: "several generations, no id: join the open one",
        lastEventID: nil,
        generations: [.ended(tokenA, next: 5), .ended(tokenB, next: 4), .open(tokenC, first: 2, next: 3)],
        expected: .join(token: tokenC, cursor: 2, replayMiss: false)),
    ResolutionCase(
        name: "several ended generations, relay id of an evicted event of the oldest: replay miss, start",
        lastEventID: "\(tokenA)-1",
        generations: [.ended(tokenA, first: 3, next: 5), .ended(tokenB, next: 4)],
        expected: .start(forwardedLastEventID: nil, replayMiss: true)),
]
