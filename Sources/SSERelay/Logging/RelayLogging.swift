public import Logging
public import SSERelayCore

/// Sets up swift-log for the process from `log` in the configuration.
public enum RelayLogging {
    /// The level of every logger the bootstrapped backend makes; a reload sets it.
    public static let level = SharedLogLevel()

    /// Installs the handler for `format` as the process-wide logging backend, its level shared
    /// through ``level``. Call once, first thing in `main`.
    public static func bootstrap(format: LogConfiguration.Format) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .json:
                return LevelSharingLogHandler(wrapped: JSONLogHandler(label: label), sharedLevel: Self.level)
            case .text:
                return LevelSharingLogHandler(
                    wrapped: StreamLogHandler.standardError(label: label), sharedLevel: Self.level)
            }
        }
    }

    /// The relay's logger at the configured level.
    public static func logger(_ configuration: LogConfiguration) -> Logger {
        var logger = Logger(label: "sse-relay")
        logger.logLevel = Logger.Level(configuration.level)
        return logger
    }
}

extension Logger.Level {
    /// The swift-log level of a configured level name.
    public init(_ level: LogConfiguration.Level) {
        switch level {
        case .trace: self = .trace
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }
}
