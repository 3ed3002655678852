public import NIOCore

/// Writes what a stream response sends: the first block, events with their ids, heartbeats
/// and comments, every line ending in LF (docs/protocol.md, "What a stream response carries").
public struct EventStreamWriter: Sendable {
    /// Whether the upstream's `retry` lines are dropped: they are when the route sets its own
    /// `retryMs`, so a client never sees two reconnection times.
    public var dropsUpstreamRetry: Bool

    public init(dropsUpstreamRetry: Bool) {
        self.dropsUpstreamRetry = dropsUpstreamRetry
    }

    /// The block that opens every stream response: `retry: N` (when set) and the priming id
    /// naming the client's position, then a blank line. An id-only block dispatches no event
    /// but sets the browser's last event id, so even a client that drops before the first event
    /// reconnects with `Last-Event-ID`.
    public func preamble(retryMs: Int?, primingID: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 32 + primingID.utf8.count)
        if let retryMs {
            buffer.writeString("retry: \(retryMs)\n")
        }
        buffer.writeString("id: \(primingID)\n\n")
        return buffer
    }

    /// The id-only block that closes a stream whose generation finished cleanly: it sets the
    /// browser's last event id to `marker`, an end marker, so the reconnect that follows is
    /// answered `204` by any relay, even one that never saw the generation.
    public func endBlock(marker: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: marker.utf8.count + 6)
        buffer.writeString("id: \(marker)\n\n")
        return buffer
    }

    /// The name of the event that closes the responses of a generation that ended abnormally.
    /// A page listens for it with `addEventListener`; an `EventSource` that only has
    /// `onmessage` ignores it, as it ignores every named event.
    public static let failureEventName = "relay-error"

    /// The event that closes a stream whose generation failed (upstream reset, invalid stream,
    /// cancelled): `event: relay-error`, `data: {"reason":"<reason>"}` and the failure `marker`
    /// as its id, so the page learns the answer is incomplete and the reconnect that follows
    /// says so. `reason` is one of the public words of ``GenerationFailure``.
    public func failureBlock(marker: String, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: marker.utf8.count + reason.utf8.count + 64)
        buffer.writeString("event: \(Self.failureEventName)\n")
        buffer.writeString("data: {\"reason\":\"\(reason)\"}\n")
        buffer.writeString("id: \(marker)\n\n")
        return buffer
    }

    /// The event as clients receive it. With `relayID`, the event's own `id` lines are dropped
    /// and `id: <relayID>` is written last; without, its lines pass as they are.
    public func encode(_ event: ServerSentEvent, relayID: String?, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: self.encodedCapacity(of: event, relayID: relayID))
        self.write(event, relayID: relayID, into: &buffer)
        return buffer
    }

    /// The event as clients receive it (see ``encode(_:relayID:allocator:)``), encoded straight
    /// into its HTTP chunk: what the replay buffer keeps and every client is sent.
    public func encodeChunk(_ event: ServerSentEvent, relayID: String?) -> FramedChunk {
        FramedChunk(payloadCapacity: self.encodedCapacity(of: event, relayID: relayID)) {
            self.write(event, relayID: relayID, into: &$0)
        }
    }

    /// What ``write(_:relayID:into:)`` writes at most: every line and the relay id.
    private func encodedCapacity(of event: ServerSentEvent, relayID: String?) -> Int {
        var capacity = relayID.map { $0.utf8.count + 5 } ?? 0
        for line in event.lines {
            capacity += line.raw.count + 1
        }
        return capacity + 1
    }

    /// Appends the event as clients receive it to `buffer` (see ``encode(_:relayID:allocator:)``).
    private func write(_ event: ServerSentEvent, relayID: String?, into buffer: inout ByteBuffer) {
        for line in event.lines {
            if relayID != nil, line.field == "id" { continue }
            if self.dropsUpstreamRetry, line.field == "retry" { continue }
            buffer.writeBytes(line.raw)
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
        if let relayID {
            buffer.writeStaticString("id: ")
            buffer.writeString(relayID)
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// A comment line from the upstream, passed to live clients.
    public func comment(_ line: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: line.count + 1)
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }

    /// The heartbeat sent to a client that was sent nothing for `heartbeatSeconds`: a bare
    /// comment, which every SSE parser ignores but every idle timer counts as traffic.
    public static let heartbeat: [UInt8] = Array(":\n".utf8)
}
