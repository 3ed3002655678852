import NIOCore
import NIOHTTP1
import SSERelayCore

/// Keep-alive connections to one upstream server for the client connections of one event loop.
///
/// One pool per server and event loop, so a client connection and its upstream connection always share a
/// loop: bytes move between them with plain calls, never a thread hop, and the pool needs no
/// lock. Idle connections are reused newest first (the most likely to still be open) and closed
/// after ``UpstreamConfiguration/idleTimeoutSeconds``. When ``limit`` connections are open,
/// requests wait in line for the next one released.
///
/// Streams do not come from the keep-alive connections: a stream holds its connection for its
/// whole life, so with shared connections a thousand conversations would fill the pool and
/// every pass-through request would wait behind them (or the next conversation would wait
/// behind them all). ``acquireForStream(_:)`` opens a dedicated connection instead, counted
/// against the loop's ``UpstreamStreamBudget`` alone (shared with the loop's other servers) and
/// closed when released; neither side ever waits for the other.
///
/// The pool opens its connections through an ``UpstreamConnector``: TCP in the relay, which
/// reads into the same small buffers as the client connections.
final class UpstreamConnectionPool {
    let eventLoop: any EventLoop
    /// The server this pool's connections go to.
    let server: UpstreamServer
    private let connector: UpstreamConnector
    private let configuration: UpstreamConfiguration
    /// Open connections allowed to this server on this loop: the configured total shared among
    /// the loops, and among the servers by weight.
    let limit: Int
    /// Dedicated stream connections allowed open at once on this loop, to any server: the
    /// streams' share of the descriptors (``ConnectionCapacity/streamUpstreamConnections``)
    /// shared among the loops.
    let streamBudget: UpstreamStreamBudget

    private var idle: [UpstreamConnection] = []
    private var openCount = 0
    private var waiters = CircularBuffer<Waiter>()
    private var isShutDown = false
    /// Counts the changes of the upstream's addresses (``addressesChanged(to:)``); a connection
    /// from an earlier count is checked against ``currentAddresses`` before it is reused.
    private(set) var addressEpoch = 0
    /// The addresses the upstream's name stands for since the last change; `nil` before any.
    private var currentAddresses: Set<SocketAddress>?

    init(
        eventLoop: any EventLoop,
        server: UpstreamServer,
        connector: UpstreamConnector,
        configuration: UpstreamConfiguration,
        limit: Int,
        streamBudget: UpstreamStreamBudget
    ) {
        self.eventLoop = eventLoop
        self.server = server
        self.connector = connector
        self.configuration = configuration
        self.limit = limit
        self.streamBudget = streamBudget
    }

    /// Pass-through requests on this loop that hold or wait for a connection to this server:
    /// the open connections that are not idle (connecting ones included), and the waiters.
    var outstanding: Int {
        self.openCount - self.idle.count + self.waiters.count
    }

    /// Called with the outcome of ``acquire(_:)``, on the pool's event loop.
    typealias Acquisition = (Result<UpstreamConnection, UpstreamError>) -> Void

    /// A request waiting for a connection while the pool is at its limit.
    private final class Waiter {
        let completion: Acquisition
        var timer: Scheduled<Void>?

        init(_ completion: @escaping Acquisition) {
            self.completion = completion
        }
    }

    /// Finds a connection for one request: an idle one, a new one, or the next one released
    /// when the pool is at its limit. A request waits at most `upstream.connectTimeoutSeconds`
    /// for a connection to be released, then fails with `503`. `completion` runs on the pool's
    /// loop, possibly at once.
    func acquire(_ completion: @escaping Acquisition) {
        self.eventLoop.assertInEventLoop()
        guard !self.isShutDown else {
            return completion(.failure(.shuttingDown))
        }
        self.server.countRequest()
        while let connection = self.idle.popLast() {
            connection.idleTimer?.cancel()
            if connection.channel?.isActive ?? false {
                return completion(.success(connection))
            }
        }
        if self.openCount < self.limit {
            self.connect(for: .pool, completion)
        } else {
            let waiter = Waiter(completion)
            let seconds = self.configuration.connectTimeoutSeconds
            waiter.timer = self.eventLoop.assumeIsolated().scheduleTask(in: .fractionalSeconds(seconds)) {
                guard let index = self.waiters.firstIndex(where: { $0 === waiter }) else { return }
                self.waiters.remove(at: index)
                waiter.completion(.failure(.noConnectionAvailable(limit: self.limit, seconds: seconds)))
            }
            self.waiters.append(waiter)
        }
    }

    /// Opens a dedicated connection for one stream, outside the keep-alive pool.
    ///
    /// It never takes an idle pooled connection nor waits for one: when the loop's
    /// ``streamBudget`` is spent it fails at once with
    /// ``UpstreamError/noStreamConnectionAvailable(limit:)``, since the streams that hold the
    /// budget may run for hours. `completion` runs on the pool's loop, possibly at once.
    func acquireForStream(_ completion: @escaping Acquisition) {
        self.eventLoop.assertInEventLoop()
        guard !self.isShutDown else {
            return completion(.failure(.shuttingDown))
        }
        guard self.streamBudget.take() else {
            return completion(.failure(.noStreamConnectionAvailable(limit: self.streamBudget.limit)))
        }
        self.server.countRequest()
        self.connect(for: .stream, completion)
    }

    /// Takes back a connection whose exchange is over: kept for reuse when it can carry another
    /// request, closed otherwise. A stream's dedicated connection is always closed: an event
    /// stream rarely ends on a clean keep-alive boundary, and keeping it would put it in the
    /// pass-through pool's count.
    func release(_ connection: UpstreamConnection) {
        self.eventLoop.assertInEventLoop()
        connection.detachReceiver()
        guard connection.isReusable, !connection.isDedicatedToStream, !self.isShutDown,
            self.isCurrent(connection)
        else {
            connection.close()
            return
        }
        if let waiter = self.waiters.popFirst() {
            waiter.timer?.cancel()
            return waiter.completion(.success(connection))
        }
        let seconds = self.configuration.idleTimeoutSeconds
        connection.idleTimer?.arm(in: .fractionalSeconds(seconds)) {
            connection.close()
        }
        self.idle.append(connection)
    }

    /// The upstream's name stands for other addresses now: idle connections to an address it
    /// no longer stands for are closed, and busy ones are closed when released, so new requests
    /// go where the name points. Their exchanges, and streams, finish where they are.
    func addressesChanged(to addresses: [SocketAddress]) {
        self.eventLoop.assertInEventLoop()
        self.addressEpoch += 1
        self.currentAddresses = Set(addresses)
        let stale = self.idle.filter { !self.isCurrent($0) }
        for connection in stale {
            connection.close()
        }
    }

    /// Whether `connection` goes to an address the upstream's name stands for: at once when no
    /// change happened since it was last checked (the usual case: an integer comparison).
    private func isCurrent(_ connection: UpstreamConnection) -> Bool {
        guard connection.addressEpoch != self.addressEpoch else { return true }
        guard let current = self.currentAddresses, let remote = connection.channel?.remoteAddress,
            !current.contains(remote)
        else {
            connection.addressEpoch = self.addressEpoch
            return true
        }
        return false
    }

    /// Forgets a connection that became a tunnel: it no longer counts against the limit.
    func detach(_ connection: UpstreamConnection) {
        connection.pool = nil
        self.connectionDidClose(connection)
    }

    /// Called by a connection when its channel closed.
    func connectionDidClose(_ connection: UpstreamConnection) {
        guard !connection.isDedicatedToStream else {
            self.streamBudget.giveBack()
            return
        }
        self.openCount -= 1
        self.idle.removeAll { $0 === connection }
        if let waiter = self.waiters.popFirst() {
            waiter.timer?.cancel()
            self.connect(for: .pool, waiter.completion)
        }
    }

    /// Closes the idle connections and fails the waiters with `reason`; busy connections
    /// finish their exchange and are closed when released.
    func shutdown(failingWaitersWith reason: UpstreamError = .shuttingDown) {
        self.isShutDown = true
        for connection in self.idle {
            connection.close()
        }
        while let waiter = self.waiters.popFirst() {
            waiter.timer?.cancel()
            waiter.completion(.failure(reason))
        }
    }

    /// What a new connection is for, and so which count it belongs to.
    private enum Use {
        /// A keep-alive connection of the pool, counted in ``openCount``.
        case pool
        /// A stream's dedicated connection, counted in ``streamCount``.
        case stream
    }

    private func connect(for use: Use, _ completion: @escaping Acquisition) {
        // A stream's connection was taken from the budget by ``acquireForStream(_:)``.
        if use == .pool { self.openCount += 1 }
        // Undoes the count of a connection that never became one (its channel never
        // reached ``connectionDidClose(_:)`` through the pool).
        let uncount = {
            switch use {
            case .pool: self.openCount -= 1
            case .stream: self.streamBudget.giveBack()
            }
        }
        let upstream = self.server.name
        let connectTimeout = self.configuration.connectTimeoutSeconds
        self.connector.open(self.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    do {
                        let connection = try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
                        connection.isDedicatedToStream = use == .stream
                        connection.addressEpoch = self.addressEpoch
                        connection.pool = self
                        completion(.success(connection))
                    } catch {
                        channel.close(promise: nil)
                        uncount()
                        completion(.failure(.connectFailed(upstream, error)))
                    }
                case .failure(let error):
                    uncount()
                    self.server.recordFailure("connect failed: \(error)")
                    completion(
                        .failure(.connectFailure(error, upstream: upstream, connectTimeoutSeconds: connectTimeout)))
                }
            }
    }

}
