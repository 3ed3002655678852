import NIOCore
import NIOHTTP1
import NIOPosix
import SSERelayCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keep-alive connections to the upstream for the client connections of one event loop.
///
/// One pool per event loop, so a client connection and its upstream connection always share a
/// loop: bytes move between them with plain calls, never a thread hop, and the pool needs no
/// lock. Idle connections are reused newest first (the most likely to still be open) and closed
/// after ``UpstreamConfiguration/idleTimeoutSeconds``. When ``limit`` connections are open,
/// requests wait in line for the next one released.
final class UpstreamConnectionPool {
    let eventLoop: any EventLoop
    private let address: SocketAddress
    private let configuration: UpstreamConfiguration
    /// Open connections allowed on this loop: the configured total shared among the loops.
    let limit: Int

    private var idle: [UpstreamConnection] = []
    private var openCount = 0
    private var waiters = CircularBuffer<Waiter>()
    private var isShutDown = false

    init(
        eventLoop: any EventLoop,
        address: SocketAddress,
        configuration: UpstreamConfiguration,
        limit: Int
    ) {
        self.eventLoop = eventLoop
        self.address = address
        self.configuration = configuration
        self.limit = limit
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
        while let connection = self.idle.popLast() {
            connection.idleTimer?.cancel()
            if connection.channel?.isActive ?? false {
                return completion(.success(connection))
            }
        }
        if self.openCount < self.limit {
            self.connect(completion)
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

    /// Takes back a connection whose exchange is over: kept for reuse when it can carry another
    /// request, closed otherwise.
    func release(_ connection: UpstreamConnection) {
        self.eventLoop.assertInEventLoop()
        connection.detachReceiver()
        guard connection.isReusable, !self.isShutDown else {
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

    /// Forgets a connection that became a tunnel: it no longer counts against the limit.
    func detach(_ connection: UpstreamConnection) {
        connection.pool = nil
        self.connectionDidClose(connection)
    }

    /// Called by a connection when its channel closed.
    func connectionDidClose(_ connection: UpstreamConnection) {
        self.openCount -= 1
        self.idle.removeAll { $0 === connection }
        if let waiter = self.waiters.popFirst() {
            waiter.timer?.cancel()
            self.connect(waiter.completion)
        }
    }

    /// Closes the idle connections and fails the waiters; busy connections finish their exchange.
    func shutdown() {
        self.isShutDown = true
        for connection in self.idle {
            connection.close()
        }
        while let waiter = self.waiters.popFirst() {
            waiter.timer?.cancel()
            waiter.completion(.failure(.shuttingDown))
        }
    }

    private func connect(_ completion: @escaping Acquisition) {
        self.openCount += 1
        let upstream = self.configuration.url.description
        let connectTimeout = self.configuration.connectTimeoutSeconds
        ClientBootstrap(group: self.eventLoop)
            .connectTimeout(.fractionalSeconds(connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.recvAllocator, value: ProxyServer.receiveBuffers)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let encoder = HTTPRequestEncoder(configuration: .noAutomaticFraming)
                    // Write-observing: the decoder learns which requests were HEAD, whose
                    // responses carry no body.
                    let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                    let connection = UpstreamConnection(codecHandlers: [encoder, decoder])
                    try channel.pipeline.syncOperations.addHandlers([encoder, decoder, connection])
                }
            }
            .connect(to: self.address)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    do {
                        let connection = try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
                        connection.pool = self
                        completion(.success(connection))
                    } catch {
                        channel.close(promise: nil)
                        self.openCount -= 1
                        completion(.failure(.connectFailed(upstream, error)))
                    }
                case .failure(let error):
                    self.openCount -= 1
                    completion(
                        .failure(.connectFailure(error, upstream: upstream, connectTimeoutSeconds: connectTimeout)))
                }
            }
    }

}

extension HTTPRequestEncoder.Configuration {
    /// The relay frames every message itself (see ``ResponseFraming``).
    static var noAutomaticFraming: Self {
        var configuration = Self()
        configuration.automaticallySetFramingHeaders = false
        return configuration
    }
}
