import NIOCore
import Testing

@testable import SSERelayCore

@Suite("ReplayBuffer")
struct ReplayBufferTests {
    private func event(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test("events are numbered from 1 and found by sequence and id")
    func numbering() {
        var buffer = ReplayBuffer(maxEvents: 10, maxBytes: 1 << 20)
        #expect(buffer.firstSequence == 1)
        #expect(buffer.nextSequence == 1)
        for index in 1...3 {
            let (sequence, evicted) = buffer.append(id: "id-\(index)", bytes: self.event("data: \(index)\n\n"))
            #expect(sequence == index)
            #expect(evicted == 0)
        }
        #expect(buffer.count == 3)
        #expect(buffer.entry(2)?.id == "id-2")
        #expect(buffer.entry(2)?.bytes == self.event("data: 2\n\n"))
        #expect(buffer.entry(0) == nil)
        #expect(buffer.entry(4) == nil)
        #expect(buffer.sequence(ofID: "id-3") == 3)
        #expect(buffer.sequence(ofID: "nope") == nil)
        #expect(buffer.retainedBytes == 27)
    }

    @Test("maxEvents evicts the oldest events")
    func maxEvents() {
        var buffer = ReplayBuffer(maxEvents: 3, maxBytes: 1 << 20)
        for index in 1...5 {
            buffer.append(id: "\(index)", bytes: self.event("\(index)"))
        }
        #expect(buffer.count == 3)
        #expect(buffer.firstSequence == 3)
        #expect(buffer.nextSequence == 6)
        #expect(buffer.sequence(ofID: "2") == nil)
        #expect(buffer.sequence(ofID: "3") == 3)
        #expect(buffer.retainedBytes == 3)
    }

    @Test("maxBytes evicts the oldest events but keeps the newest one")
    func maxBytes() {
        var buffer = ReplayBuffer(maxEvents: 100, maxBytes: 10)
        buffer.append(id: "a", bytes: self.event("12345"))
        buffer.append(id: "b", bytes: self.event("12345"))
        #expect(buffer.count == 2)
        let (_, evicted) = buffer.append(id: "c", bytes: self.event("1"))
        #expect(evicted == 5)
        #expect(buffer.firstSequence == 2)
        #expect(buffer.retainedBytes == 6)
        let (_, evictedForLarge) = buffer.append(id: "d", bytes: self.event(String(repeating: "x", count: 50)))
        #expect(evictedForLarge == 6)
        #expect(buffer.count == 1)
        #expect(buffer.retainedBytes == 50)
    }

    @Test("a repeated id resolves to its latest retained event, and is forgotten with it")
    func repeatedIDs() {
        var buffer = ReplayBuffer(maxEvents: 2, maxBytes: 1 << 20)
        buffer.append(id: "same", bytes: self.event("1"))
        buffer.append(id: "same", bytes: self.event("2"))
        #expect(buffer.sequence(ofID: "same") == 2)
        // Evicting event 1 must not forget that event 2 has the id.
        buffer.append(id: "other", bytes: self.event("3"))
        #expect(buffer.sequence(ofID: "same") == 2)
        buffer.append(id: "other", bytes: self.event("4"))
        #expect(buffer.sequence(ofID: "same") == nil)
        #expect(buffer.sequence(ofID: "other") == 4)
    }

    @Test("lag is the bytes from a cursor to the head; an evicted cursor has none")
    func lag() {
        var buffer = ReplayBuffer(maxEvents: 3, maxBytes: 1 << 20)
        #expect(buffer.lag(from: 1) == 0)
        buffer.append(id: "1", bytes: self.event("aa"))
        buffer.append(id: "2", bytes: self.event("bbb"))
        buffer.append(id: "3", bytes: self.event("cccc"))
        #expect(buffer.lag(from: 1) == 9)
        #expect(buffer.lag(from: 2) == 7)
        #expect(buffer.lag(from: 3) == 4)
        #expect(buffer.lag(from: 4) == 0)
        buffer.append(id: "4", bytes: self.event("d"))
        #expect(buffer.lag(from: 1) == nil)
        #expect(buffer.lag(from: 2) == 8)
    }

    @Test("evictOldest and removeAll free bytes and keep the numbering")
    func eviction() {
        var buffer = ReplayBuffer(maxEvents: 10, maxBytes: 1 << 20)
        buffer.append(id: "1", bytes: self.event("aa"))
        buffer.append(id: "2", bytes: self.event("bbb"))
        #expect(buffer.evictOldest() == 2)
        #expect(buffer.firstSequence == 2)
        buffer.removeAll()
        #expect(buffer.count == 0)
        #expect(buffer.retainedBytes == 0)
        #expect(buffer.evictOldest() == 0)
        #expect(buffer.firstSequence == 3)
        #expect(buffer.append(id: "3", bytes: self.event("c")).sequence == 3)
    }

    @Test("a random workload keeps every invariant", arguments: [(5, 40), (1, 1024), (50, 100)])
    func invariants(maxEvents: Int, maxBytes: Int) {
        var generator = SplitMix64(seed: UInt64(maxEvents * 7919 + maxBytes))
        var buffer = ReplayBuffer(maxEvents: maxEvents, maxBytes: maxBytes)
        var sizes: [Int: Int] = [:]
        for step in 1...2_000 {
            let size = Int(generator.next() % 30) + 1
            buffer.append(id: "e\(step % 17)", bytes: ByteBuffer(repeating: 0x61, count: size))
            sizes[step] = size
            #expect(buffer.count <= maxEvents)
            #expect(buffer.count >= 1)
            #expect(buffer.retainedBytes <= max(maxBytes, size))
            let retained = (buffer.firstSequence..<buffer.nextSequence).reduce(0) { $0 + (sizes[$1] ?? 0) }
            #expect(buffer.retainedBytes == retained)
            #expect(buffer.lag(from: buffer.firstSequence) == retained)
        }
    }

    @Test("relay ids are not stored: only upstream ids are looked up, and only they count as memory")
    func relayIDsAreNotStored() {
        var buffer = ReplayBuffer(maxEvents: 10, maxBytes: 1 << 20)
        buffer.append(id: nil, bytes: self.event("data: relay\n\n"))
        buffer.append(id: "upstream-7", bytes: self.event("data: upstream\n\n"))
        #expect(buffer.entry(1)?.id == nil)
        #expect(buffer.sequence(ofID: "upstream-7") == 2)
        let withoutID = (buffer.entry(1)?.chunk.framed.capacity ?? 0) + ReplayBuffer.entryOverhead
        let withID =
            (buffer.entry(2)?.chunk.framed.capacity ?? 0) + "upstream-7".utf8.count + ReplayBuffer.entryOverhead
        #expect(buffer.retainedFootprint == withoutID + withID)
        buffer.evictOldest()
        buffer.evictOldest()
        #expect(buffer.sequence(ofID: "upstream-7") == nil)
        #expect(buffer.retainedFootprint == 0)
    }

    @Test("the footprint counts each event's allocation, id and overhead, and returns to 0")
    func footprint() {
        var buffer = ReplayBuffer(maxEvents: 2, maxBytes: 1 << 20)
        let first = ByteBuffer(string: "data: 1\n\n")
        buffer.append(id: "id-1", bytes: first)
        // What is retained is the event framed as a chunk: that allocation is what counts.
        let allocated = buffer.entry(1)?.chunk.framed.capacity ?? 0
        #expect(allocated >= first.readableBytes + "9\r\n\r\n".utf8.count)
        #expect(buffer.retainedFootprint == allocated + 4 + ReplayBuffer.entryOverhead)
        #expect(buffer.retainedFootprint > buffer.retainedBytes)
        buffer.append(id: "id-2", bytes: ByteBuffer(string: "data: 2\n\n"))
        buffer.append(id: "id-3", bytes: ByteBuffer(string: "data: 3\n\n"))
        #expect(buffer.count == 2)
        #expect(buffer.retainedFootprint == 2 * (allocated + 4 + ReplayBuffer.entryOverhead))
        buffer.removeAll()
        #expect(buffer.retainedFootprint == 0)
        #expect(buffer.retainedBytes == 0)
    }
}
