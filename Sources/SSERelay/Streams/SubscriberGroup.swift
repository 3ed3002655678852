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

    /// The members as `/streams` shows them, read on the group's loop.
    func reports() -> EventLoopFuture<[StreamClientReport]> {
        self.eventLoop.submit {
            let now = NIODeadline.now()
            return self.members.value.subscribers.values.map { $0.report(now: now) }
        }
    }

    /// Wakes every member on the group's loop: new events, the response head, comments or the
    /// end of the upstream.
    func wake() {
        self.eventLoop.execute {
            for subscriber in self.members.value.subscribers.values {
                subscriber.generationDidChange()
            }
        }
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
