import NIOCore

/// Generations in the order something happened to them (they started, their upstream ended),
/// for the replay bound's reclaim, without owning them.
///
/// The registry's map owns the generations it holds; an entry here only points at one. Weak on
/// purpose: a generation refers to its registry, so owning entries would keep every generation
/// discarded since (until the order is next compacted), and through it the registry and the
/// whole server, alive. An entry whose generation was freed reads as gone and is dropped when
/// met; one the registry no longer holds is the caller's to skip. Generic over the element only
/// so that it can be tested without a registry.
struct GenerationOrder<Element: AnyObject & Sendable>: Sendable {
    private struct Entry {
        weak var generation: Element?
    }

    private var entries = CircularBuffer<Entry>()

    /// Entries, some of which may be gone.
    var count: Int { self.entries.count }

    mutating func append(_ generation: Element) {
        self.entries.append(Entry(generation: generation))
    }

    /// The first generation still alive, dropping the entries before it whose generation is
    /// gone; `nil` when none is left.
    mutating func first() -> Element? {
        // Bounded: every pass drops an entry.
        while let entry = self.entries.first {
            if let generation = entry.generation {
                return generation
            }
            self.entries.removeFirst()
        }
        return nil
    }

    /// Removes and returns the first generation still alive.
    mutating func popFirst() -> Element? {
        let generation = self.first()
        if generation != nil {
            self.entries.removeFirst()
        }
        return generation
    }

    /// Moves the first entry to the end.
    mutating func rotateFirst() {
        if let entry = self.entries.popFirst() {
            self.entries.append(entry)
        }
    }

    /// Keeps only the generations still alive for which `keep` holds: linear, for compaction.
    mutating func retain(where keep: (Element) -> Bool) {
        self.entries = CircularBuffer(self.entries.filter { $0.generation.map(keep) ?? false })
    }
}
