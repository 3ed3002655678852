public import NIOCore

/// The events of one generation, encoded once and shared by every client: the replay buffer
/// and the fan-out queue in one.
///
/// Each event gets a sequence number from 1. A client is a cursor: the sequence number of the
/// next event it is to receive. Joining from the start, joining live and resuming after an id
/// differ only in where the cursor starts, and a client's lag is the bytes between its cursor
/// and the head, which is what `clientQueueBytes` bounds.
///
/// Bounded by `maxEvents` and `maxBytes`: appending past either evicts the oldest events. A
/// cursor that falls behind the oldest retained event has lost events and must be dropped.
public struct ReplayBuffer: Sendable {
    /// One retained event.
    public struct Entry: Sendable, Hashable {
        public var sequence: Int
        /// The upstream's id for this event, found by ``ReplayBuffer/sequence(ofID:)``; `nil`
        /// when the relay gave the event its id. A relay id is the generation's token and the
        /// sequence number, parsed rather than stored (``RelayEventID``), which saves every
        /// such event a string and a slot in the lookup table.
        public var id: String?
        /// The event as sent to clients, framed once as an HTTP chunk for all of them.
        public var chunk: FramedChunk
        /// Bytes appended before this event, over the buffer's whole life.
        public var offset: Int
        /// When the relay read the event from the upstream, for the delivery-latency metric.
        public var receivedAt: NIODeadline

        /// The event as sent to clients, without the chunk framing.
        public var bytes: ByteBuffer { self.chunk.payload }
    }

    public let maxEvents: Int
    public let maxBytes: Int

    /// Starts small (it doubles as it fills): a quiet stream should cost little memory.
    private var entries = CircularBuffer<Entry>(initialCapacity: 4)
    private var sequenceByID: [String: Int] = [:]
    /// Bytes appended over the buffer's whole life: the offset of the head.
    private var appendedBytes = 0

    /// The sequence number the next event gets; the last event's is one less.
    public private(set) var nextSequence = 1
    /// Bytes of the events retained now (their payload as clients receive it).
    public private(set) var retainedBytes = 0
    /// The memory the retained events hold, estimated: each event's allocated capacity, its id,
    /// and ``entryOverhead``. What `limits.replayMemoryBytes` bounds.
    public private(set) var retainedFootprint = 0

    /// What one retained event costs beside its buffer's capacity and its upstream id: the
    /// entry in the ring, the buffer's storage object, the allocator's headers, and an upstream
    /// id's slot in the lookup table. Calibrated by measurement, and kept on the safe side:
    /// 200 streams growing by 140,000 events of about 75 bytes (128-byte buffers, relay ids)
    /// added 353 bytes of resident memory per event, which this counts as 384.
    public static let entryOverhead = 256

    /// The estimated memory of one retained event.
    static func footprint(of entry: Entry) -> Int {
        entry.chunk.framed.capacity + (entry.id?.utf8.count ?? 0) + Self.entryOverhead
    }

    public init(maxEvents: Int, maxBytes: Int) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
    }

    /// The sequence number of the oldest retained event (equal to ``nextSequence`` when empty).
    public var firstSequence: Int { self.entries.first?.sequence ?? self.nextSequence }

    /// How many events are retained.
    public var count: Int { self.entries.count }

    /// Appends an event read from the upstream at `receivedAt`, framing it as an HTTP chunk (see
    /// ``FramedChunk``); `id` is the upstream's id, `nil` for a relay id. Returns the event's
    /// sequence number and the bytes evicted to make room.
    @discardableResult
    public mutating func append(
        id: String?, bytes: ByteBuffer, receivedAt: NIODeadline = .now()
    ) -> (sequence: Int, evictedBytes: Int) {
        self.append(id: id, chunk: FramedChunk(payload: bytes), receivedAt: receivedAt)
    }

    /// Appends an event already framed as a chunk (see ``append(id:bytes:receivedAt:)``).
    @discardableResult
    public mutating func append(
        id: String?, chunk: FramedChunk, receivedAt: NIODeadline = .now()
    ) -> (sequence: Int, evictedBytes: Int) {
        let sequence = self.nextSequence
        self.nextSequence += 1
        let bytes = chunk.payloadLength
        let entry = Entry(
            sequence: sequence, id: id, chunk: chunk, offset: self.appendedBytes, receivedAt: receivedAt)
        self.entries.append(entry)
        self.retainedFootprint += Self.footprint(of: entry)
        if let id {
            self.sequenceByID[id] = sequence
        }
        self.appendedBytes += bytes
        self.retainedBytes += bytes
        var evicted = 0
        // The newest event stays even when it alone exceeds `maxBytes`: live clients still get it.
        while self.entries.count > self.maxEvents || (self.retainedBytes > self.maxBytes && self.entries.count > 1) {
            evicted += self.evictOldest()
        }
        return (sequence, evicted)
    }

    /// Drops the oldest event; returns its size (0 when empty). Used for the per-generation
    /// bounds and for the global `replayMemoryBytes` bound.
    @discardableResult
    public mutating func evictOldest() -> Int {
        guard let oldest = self.entries.popFirst() else { return 0 }
        self.retainedBytes -= oldest.chunk.payloadLength
        self.retainedFootprint -= Self.footprint(of: oldest)
        if let id = oldest.id, self.sequenceByID[id] == oldest.sequence {
            self.sequenceByID[id] = nil
        }
        return oldest.chunk.payloadLength
    }

    /// Drops every event, keeping the numbering.
    public mutating func removeAll() {
        while !self.entries.isEmpty {
            self.evictOldest()
        }
    }

    /// The retained event with sequence number `sequence`.
    public func entry(_ sequence: Int) -> Entry? {
        let index = sequence - self.firstSequence
        guard index >= 0, index < self.entries.count else { return nil }
        return self.entries[self.entries.index(self.entries.startIndex, offsetBy: index)]
    }

    /// The sequence number of the latest retained event with this upstream id (relay ids are
    /// parsed instead, see ``Entry/id``).
    public func sequence(ofID id: String) -> Int? {
        self.sequenceByID[id]
    }

    /// Bytes between a cursor and the head: what a client at `cursor` has yet to receive.
    /// `nil` when events at the cursor were evicted (the client has lost events).
    public func lag(from cursor: Int) -> Int? {
        guard cursor >= self.firstSequence else { return nil }
        guard let entry = self.entry(cursor) else { return 0 }
        return self.appendedBytes - entry.offset
    }
}
