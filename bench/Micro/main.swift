import NIOCore
import SSERelayCore

// Micro-benchmarks of the relay's core, in a release build (figures in docs/benchmarks.md):
//
//   swift run -c release --scratch-path .build-bench sse-relay-microbench
//
// Each figure is the fastest of five runs of at least 0.3 s. The fan-out itself (writing an
// event to thousands of sockets) is measured by bench/compare.sh as CPU µs per delivered
// event, because its cost is the kernel's socket writes, which no in-process harness has.

/// A stream of `count` events shaped like the backend fixture's: `id`, `data` with a token
/// and a timestamp, a blank line.
func eventStream(count: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    for number in 1...count {
        bytes += Array("id: evt-\(number)\ndata: token \(number) of conversation-42 t=1764115200000\n\n".utf8)
    }
    return bytes
}

let streamBytes = eventStream(count: 1000)
let chunks = stride(from: 0, to: streamBytes.count, by: 4096).map {
    ByteBuffer(bytes: streamBytes[$0..<min($0 + 4096, streamBytes.count)])
}
var sampleParser = EventStreamParser()
let sampleEvents: [ServerSentEvent] = ((try? sampleParser.feed(streamBytes)) ?? []).compactMap {
    if case .event(let event) = $0 { return event }
    return nil
}
guard sampleEvents.count == 1000 else { fatalError("the sample stream parsed to \(sampleEvents.count) events") }
let writer = EventStreamWriter(dropsUpstreamRetry: true)
let relayID = RelayEventID(generation: "0123456789abcdef", sequence: 123_456).description

var upstreamIDLog = ReplayBuffer(maxEvents: 10_000, maxBytes: 1 << 30)
for index in 0..<10_000 {
    let event = sampleEvents[index % sampleEvents.count]
    upstreamIDLog.append(id: "evt-\(index)", bytes: writer.encode(event, relayID: nil, allocator: .init()))
}
let generations = [
    GenerationSnapshot(token: "0123456789abcdef", isUpstreamOpen: false, log: upstreamIDLog),
    GenerationSnapshot(token: "fedcba9876543210", isUpstreamOpen: true, log: upstreamIDLog),
]

var lookupCounter = 0
var appendLog = ReplayBuffer(maxEvents: 10_000, maxBytes: 1 << 30)
let framedSample = FramedChunk(payload: writer.encode(sampleEvents[0], relayID: relayID, allocator: .init()))

let measurements = [
    Measurement(name: "SSE parser, 4 KiB chunks", unitsPerCall: streamBytes.count, unit: "bytes") {
        var parser = EventStreamParser()
        var events = 0
        for chunk in chunks {
            events += (try? parser.feed(chunk))?.count ?? 0
        }
        return events
    },
    Measurement(name: "encode an event with its relay id, framed as a chunk", unitsPerCall: 1, unit: "events") {
        lookupCounter &+= 1
        let event = sampleEvents[lookupCounter % sampleEvents.count]
        return writer.encodeChunk(event, relayID: relayID).framed.readableBytes
    },
    Measurement(name: "replay buffer append (full at 10,000: one eviction each)", unitsPerCall: 1, unit: "events") {
        appendLog.append(id: nil, chunk: framedSample).sequence
    },
    Measurement(name: "replay lookup of an upstream id, then its lag", unitsPerCall: 1, unit: "lookups") {
        lookupCounter &+= 7919
        let sequence = upstreamIDLog.sequence(ofID: "evt-\(lookupCounter % 10_000)") ?? 0
        return upstreamIDLog.lag(from: sequence) ?? 0
    },
    Measurement(name: "resolve a reconnect with a relay Last-Event-ID", unitsPerCall: 1, unit: "requests") {
        lookupCounter &+= 7919
        let id = "0123456789abcdef-\(lookupCounter % 10_000 + 1)"
        switch StreamRequestResolution.resolve(lastEventID: id, generations: generations, joinFrom: .start) {
        case .resume(_, let cursor): return cursor
        default: return 0
        }
    },
]

/// `1234567` as `1,234,567`.
func thousands(_ value: Int) -> String {
    var digits = String(value)
    var groups: [Substring] = []
    while digits.count > 3 {
        groups.insert(digits.suffix(3), at: 0)
        digits.removeLast(3)
    }
    return ([Substring(digits)] + groups).joined(separator: ",")
}

print("| micro-benchmark | rate |")
print("|---|---:|")
var checksums = 0
for measurement in measurements {
    let (rate, checksum) = measurement.run()
    checksums &+= checksum
    let shown =
        measurement.unit == "bytes"
        ? "\(Int(rate / 1_048_576)) MiB/s" : "\(thousands(Int(rate))) \(measurement.unit)/s"
    print("| \(measurement.name) | \(shown) |")
}
print("(checksum \(checksums))")
