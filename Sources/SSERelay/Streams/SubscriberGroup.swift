import NIOCore

/// The subscribers of one generation on one event loop.
///
/// The generation's upstream runs on one loop; its clients may sit on any. For each event the
/// generation makes one hop per loop that has subscribers, not one per subscriber, and the
/// group wakes its members there.
final class SubscriberGroup: Sendable {
    let eventLoop: any EventLoop
    private let members: NIOLoopBound<Members>

    final class Members {
        var subscribers: [ObjectIdentifier: StreamSubscriber] = [:]
        /// Whether ``wake()`` is going through the members now.
        var isWaking = false
        /// The batch the first member at a cursor read during this wake; every member at the
        /// same cursor (all live clients, usually) writes it without reading the log again.
        var sharedBatch: SharedBatch?
    }

    /// A batch read from the log, and what it was read for.
    struct SharedBatch {
        var cursor: Int
        var commentsSeen: Int
        var batch: Generation.Batch
    }

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.members = NIOLoopBound(Members(), eventLoop: eventLoop)
    }

    /// Adds a subscriber; call on the group's loop.
    func add(_ subscriber: StreamSubscriber) {
        self.members.value.subscribers[ObjectIdentifier(subscriber)] = subscriber
    }

    /// Removes a subscriber; call on the group's loop.
    func remove(_ subscriber: StreamSubscriber) {
        self.members.value.subscribers[ObjectIdentifier(subscriber)] = nil
    }

    /// The members as they stand, read on the group's loop.
    func inspectMembers() -> EventLoopFuture<[GenerationInspection.Client]> {
        self.eventLoop.submit {
            let now = NIODeadline.now()
            return self.members.value.subscribers.values.map { $0.inspect(now: now) }
        }
    }

    /// Wakes every member on the group's loop: new events, the response head, comments or the
    /// end of the upstream.
    func wake() {
        self.eventLoop.execute {
            let members = self.members.value
            members.isWaking = true
            defer {
                members.isWaking = false
                members.sharedBatch = nil
            }
            for subscriber in members.subscribers.values {
                subscriber.generationDidChange()
            }
        }
    }

    /// What a member at `cursor` is to write next: during a wake, the batch another member at
    /// the same position already read, else a fresh read of `generation`'s log.
    ///
    /// A shared batch may miss events appended while the wake goes on; each append wakes the
    /// group again, and that wake reads them.
    func batch(
        of generation: Generation, from cursor: Int, limit: Int, commentsSeen: Int
    ) -> Generation.Batch? {
        let members = self.members.value
        if members.isWaking, let shared = members.sharedBatch, shared.cursor == cursor,
            shared.commentsSeen == commentsSeen
        {
            return shared.batch
        }
        let batch = generation.batch(from: cursor, limit: limit, commentsSeen: commentsSeen)
        if members.isWaking, let batch {
            members.sharedBatch = SharedBatch(cursor: cursor, commentsSeen: commentsSeen, batch: batch)
        }
        return batch
    }
}

/// A comment line from the upstream on its way to live clients.
struct StreamComment: Sendable {
    /// The line as clients receive it.
    var bytes: ByteBuffer
    /// The sequence number the next event got: the comment goes before that event.
    var position: Int
    /// Counts the generation's comments from 1.
    var number: Int
}
