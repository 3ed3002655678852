import Logging
import NIOConcurrencyHelpers
import NIOCore
import SSERelayCore
import Testing

@testable import SSERelay

@Suite("Upstream addresses")
struct UpstreamAddressesTests {
    private static func address(_ ip: String, _ port: Int = 3000) throws -> SocketAddress {
        try SocketAddress(ipAddress: ip, port: port)
    }

    @Test("an IP literal is its own fixed address; a name starts with what it resolved to")
    func literalAndName() throws {
        let literal = UpstreamAddresses(host: "127.0.0.1", port: 3000)
        #expect(literal.isFixed)
        #expect(literal.current == [try Self.address("127.0.0.1")])
        let v6 = UpstreamAddresses(host: "::1", port: 3000)
        #expect(v6.isFixed)
        let unresolved = UpstreamAddresses(host: "backend", port: 3000, error: "backend does not resolve")
        #expect(!unresolved.isFixed)
        #expect(unresolved.next() == nil)
        #expect(unresolved.resolutionError == "backend does not resolve")
        let resolved = UpstreamAddresses(host: "backend", port: 3000, resolved: [try Self.address("10.0.0.1")])
        #expect(resolved.next() == (try Self.address("10.0.0.1")))
        #expect(resolved.resolutionError == nil)
    }

    @Test("connections take every address in turn")
    func roundRobin() throws {
        let all = try ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map { try Self.address($0) }
        let addresses = UpstreamAddresses(host: "backend", port: 3000, resolved: all)
        let taken = (0..<7).compactMap { _ in addresses.next() }
        #expect(taken == all + all + [all[0]])
    }

    @Test("an update is a change only when the set of addresses differs; a failure keeps them")
    func updates() throws {
        let first = try ["10.0.0.1", "10.0.0.2"].map { try Self.address($0) }
        let addresses = UpstreamAddresses(host: "backend", port: 3000, resolved: first)
        #expect(!addresses.update(first.reversed()))
        #expect(addresses.update([try Self.address("10.0.0.3")]))
        #expect(addresses.current == [try Self.address("10.0.0.3")])
        addresses.resolutionFailed("backend does not resolve")
        #expect(addresses.current == [try Self.address("10.0.0.3")])
        // Known addresses stay in use, so there is nothing to report while there are some.
        #expect(addresses.resolutionError == nil)
        #expect(addresses.update([]))
        addresses.resolutionFailed("backend does not resolve")
        #expect(addresses.resolutionError == "backend does not resolve")
        #expect(addresses.update(first))
        #expect(addresses.resolutionError == nil)
    }

    @Test("a failed connect wakes the waiting refresher, or the next wait when none waits")
    func connectFailureNudges() async throws {
        let addresses = UpstreamAddresses(host: "backend", port: 3000, resolved: [try Self.address("10.0.0.1")])
        // Buffered: the failure came first; one wait consumes it.
        addresses.connectFailed()
        addresses.connectFailed()
        await addresses.waitForConnectFailure()
        // A waiter, woken by the next failure (or, if the failure comes before the waiter has
        // registered, finding it recorded).
        async let woken: Void = addresses.waitForConnectFailure()
        addresses.connectFailed()
        await woken
    }

    @Test("cancelling the wait ends it")
    func cancelledWait() async throws {
        let addresses = UpstreamAddresses(host: "backend", port: 3000, resolved: [try Self.address("10.0.0.1")])
        let task = Task { await addresses.waitForConnectFailure() }
        task.cancel()
        await task.value
        // Nothing was consumed: a failure after the cancelled wait is still seen.
        addresses.connectFailed()
        await addresses.waitForConnectFailure()
    }
}
