import NIOConcurrencyHelpers

/// The current ``ProxySettings``, replaced as a whole by a reload.
///
/// Each connection reads it when it is accepted and again at the start of every request, so a
/// reload applies to the next request on every connection and never to one in flight.
final class ProxySettingsStore: Sendable {
    private let box: NIOLockedValueBox<ProxySettings>

    init(_ settings: ProxySettings) {
        self.box = NIOLockedValueBox(settings)
    }

    var current: ProxySettings {
        get { self.box.withLockedValue { $0 } }
        set { self.box.withLockedValue { $0 = newValue } }
    }
}
