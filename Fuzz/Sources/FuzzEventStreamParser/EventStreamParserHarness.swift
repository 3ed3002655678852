import FuzzSupport
import SSERelayCore

/// Feeds one input to ``EventStreamParser`` whole, in chunks cut where the input's hash says,
/// and (for short inputs) one byte at a time, and checks every run against
/// ``ReferenceEventStream``, a direct transcription of the parsing rules.
///
/// Invariants:
/// - `chunking`: every way of cutting the input gives the reference's events and comments, in
///   order; a run that hits the size limit gives a prefix of them (what was complete before
///   the chunk that failed) and fails however the input was cut.
/// - `limit`: the parser fails exactly when the reference says a line or event is too large.
/// - `bounded-memory`: after each chunk of the whole and random cuts the parser holds at most
///   twice its limit (an unfinished event plus an unfinished comment line, each within the
///   limit) plus a partial BOM.
/// - `finish-count`: ``EventStreamParser/finish()`` reports the bytes of the unfinished event.
/// - `event-shape`, `writer-round-trip`: see ``EventOracle``.
enum EventStreamParserHarness {
    /// Limits small enough for fuzz inputs to reach, and the relay's default.
    static let limits = [8, 64, 300, EventStreamParser.defaultMaximumEventBytes]

    /// Inputs up to this size are also fed one byte at a time.
    static let bytewiseLimit = 256

    static func run(_ bytes: [UInt8]) {
        var generator = SplitMix64(hashing: bytes)
        let limit = self.limits[Int(generator.next() % UInt64(self.limits.count))]
        let reference = ReferenceEventStream(bytes: bytes, maximumEventBytes: limit)

        var chunkings: [(name: String, chunks: [Range<Int>])] = [
            ("whole", [0..<bytes.count]),
            ("random", self.randomChunks(count: bytes.count, using: &generator)),
        ]
        if bytes.count <= self.bytewiseLimit {
            chunkings.append(("bytewise", (0..<bytes.count).map { $0..<($0 + 1) }))
        }
        for (name, chunks) in chunkings {
            self.check(bytes, chunks: chunks, name: name, limit: limit, against: reference)
        }

        if !reference.exceedsLimit {
            EventOracle.check(reference.outputs)
        }
    }

    /// Cuts `count` bytes into chunks of 0 to 16 bytes (an empty chunk is a read that returned
    /// nothing new, which must change nothing), sometimes one long one.
    static func randomChunks(count: Int, using generator: inout SplitMix64) -> [Range<Int>] {
        var chunks: [Range<Int>] = []
        var start = 0
        while start < count {
            let choice = generator.next()
            let size: Int
            switch choice % 8 {
            case 0: size = 0
            case 1: size = Int((choice >> 8) % 256) + 1
            default: size = Int((choice >> 8) % 16) + 1
            }
            let end = min(start + size, count)
            chunks.append(start..<end)
            start = end
        }
        return chunks
    }

    private static func check(
        _ bytes: [UInt8],
        chunks: [Range<Int>],
        name: String,
        limit: Int,
        against reference: ReferenceEventStream
    ) {
        // Measuring what the parser holds copies its buffers, so it is done after the chunks of
        // the random cut only, not after each of the bytewise run's single bytes.
        let checksMemory = name != "bytewise"
        var parser = EventStreamParser(maximumEventBytes: limit)
        var outputs: [EventStreamParser.Output] = []
        var failed = false
        for chunk in chunks {
            do {
                outputs += try parser.feed(bytes[chunk])
            } catch {
                failed = true
                break
            }
            if checksMemory {
                var copy = parser
                let held = copy.finish()
                Oracle.check(
                    held <= 2 * min(limit, Int.max / 4) + 3, "bounded-memory",
                    "\(name): the parser holds \(held) bytes with a limit of \(limit)")
            }
        }
        Oracle.check(
            failed == reference.exceedsLimit, "limit",
            "\(name): the parser \(failed ? "failed" : "did not fail"), the reference \(reference.exceedsLimit ? "did" : "did not") (limit \(limit))"
        )
        if failed {
            Oracle.check(
                reference.outputs.starts(with: outputs), "chunking",
                "\(name): outputs before the failure are not a prefix of the reference's: \(outputs) vs \(reference.outputs)"
            )
        } else {
            Oracle.check(
                outputs == reference.outputs, "chunking",
                "\(name): outputs differ from the reference's: \(outputs) vs \(reference.outputs)")
            let dropped = parser.finish()
            Oracle.check(
                dropped == reference.droppedAtFinish, "finish-count",
                "\(name): finish() dropped \(dropped) bytes, the reference \(reference.droppedAtFinish)")
        }
    }
}
