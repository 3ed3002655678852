import PostgresNIO

/// Why the cluster directory could not answer, for the log.
enum ClusterError: Error, CustomStringConvertible {
    /// No answer within `cluster.directoryTimeoutSeconds`.
    case timedOut(seconds: Double)

    var description: String {
        switch self {
        case .timedOut(let seconds): "no answer within \(seconds) s (cluster.directoryTimeoutSeconds)"
        }
    }

    /// A directory error in a line of the log: PostgreSQL's own message where there is one
    /// (postgres-nio's description of its errors hides it unless asked), never the query's
    /// parameters.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return "\(error.code): \(message)"
            }
            if let underlying = error.underlying {
                return "\(error.code): \(underlying)"
            }
            return "\(error.code)"
        }
        return "\(error)"
    }
}
