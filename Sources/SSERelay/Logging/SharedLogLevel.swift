public import Logging
import Synchronization

/// The process's log level, shared by every logger the relay bootstraps, so a reload
/// (`SIGHUP`) changes it everywhere at once, loggers already handed out included.
///
/// swift-log copies a `LogHandler` into every `Logger` value; a level stored in the handler
/// would be frozen in each copy. ``LevelSharingLogHandler`` reads it from here instead.
public final class SharedLogLevel: Sendable {
    private let rawLevel: Atomic<UInt8>

    public init(_ level: Logger.Level = .info) {
        self.rawLevel = Atomic(Self.code(of: level))
    }

    /// The current level.
    public var level: Logger.Level {
        get { Logger.Level.allCases[Int(self.rawLevel.load(ordering: .relaxed))] }
        set { self.rawLevel.store(Self.code(of: newValue), ordering: .relaxed) }
    }

    private static func code(of level: Logger.Level) -> UInt8 {
        UInt8(Logger.Level.allCases.firstIndex(of: level) ?? 0)
    }
}

/// A `LogHandler` whose level is a ``SharedLogLevel``; everything else goes to `Wrapped`.
struct LevelSharingLogHandler<Wrapped: LogHandler>: LogHandler {
    var wrapped: Wrapped
    let sharedLevel: SharedLogLevel

    var logLevel: Logger.Level {
        get { self.sharedLevel.level }
        set { self.sharedLevel.level = newValue }
    }

    var metadata: Logger.Metadata {
        get { self.wrapped.metadata }
        set { self.wrapped.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { self.wrapped.metadataProvider }
        set { self.wrapped.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.wrapped[metadataKey: key] }
        set { self.wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        self.wrapped.log(event: event)
    }
}
