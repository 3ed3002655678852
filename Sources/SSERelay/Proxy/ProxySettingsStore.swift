import NIOConcurrencyHelpers
import SSERelayCore

/// The running configuration, the one owner of what a reload changes: the applied
/// ``RelayConfiguration`` and the ``ProxySettings`` derived from it, replaced together.
///
/// Each connection reads its settings when it is accepted and again at the start of every
/// request, so a reload applies to the next request on every connection and never to one in
/// flight. The registries that enforce limits under locks of their own (connections, streams)
/// are handed their part by ``ProxyServer/reconfigure(_:)`` right after the replacement, from
/// the same applied configuration.
final class ProxySettingsStore: Sendable {
    private let box: NIOLockedValueBox<(configuration: RelayConfiguration, settings: ProxySettings)>

    init(_ configuration: RelayConfiguration) {
        self.box = NIOLockedValueBox((configuration, ProxySettings(configuration)))
    }

    /// The configuration in force: the one the process started with, as reloads changed it.
    var configuration: RelayConfiguration { self.box.withLockedValue { $0.configuration } }

    /// What client connections need of ``configuration``.
    var current: ProxySettings { self.box.withLockedValue { $0.settings } }

    /// Puts `configuration` in force for the requests that start from now on.
    func replace(with configuration: RelayConfiguration) {
        let settings = ProxySettings(configuration)
        self.box.withLockedValue { $0 = (configuration, settings) }
    }
}
