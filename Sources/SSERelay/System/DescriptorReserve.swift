import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A few descriptors held open (on `/dev/null`) so that the admin listener can still accept
/// when the proxy's clients have taken every other one.
///
/// Once the process is out of descriptors, every listener's accept fails alike, and
/// `/healthz` would stop answering exactly when an operator needs it. The admin listener
/// closes one of these on `EMFILE` and accepts into the freed slot at once (the proxy listener
/// is backing off by then, so it rarely takes the slot first); the reserve is refilled when the
/// admin connection closes. The classic trick of nginx and libuv, kept for the admin side.
final class DescriptorReserve: Sendable {
    private let descriptors = NIOLockedValueBox<[CInt]>([])
    /// How many descriptors the reserve holds when full.
    let capacity: Int

    /// Opens `capacity` descriptors at once; fewer when the process cannot.
    init(capacity: Int = 2) {
        self.capacity = capacity
        self.refill()
    }

    deinit {
        for descriptor in self.descriptors.withLockedValue({ $0 }) {
            close(descriptor)
        }
    }

    /// How many descriptors are held now.
    var count: Int { self.descriptors.withLockedValue { $0.count } }

    /// Closes one held descriptor; `false` when none is left.
    func release() -> Bool {
        guard let descriptor = self.descriptors.withLockedValue({ $0.popLast() }) else { return false }
        close(descriptor)
        return true
    }

    /// Opens descriptors until the reserve is full or the process is out of them again.
    func refill() {
        self.descriptors.withLockedValue { descriptors in
            while descriptors.count < self.capacity {
                let descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { return }
                descriptors.append(descriptor)
            }
        }
    }
}
