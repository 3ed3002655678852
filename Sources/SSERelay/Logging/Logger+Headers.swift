import Logging
import NIOHTTP1
import SSERelayCore

extension Logger.Metadata {
    /// Headers as log metadata (`headers`: name to values), credentials redacted.
    static func redactedHeaders(_ headers: HTTPHeaders) -> Logger.Metadata {
        var byName: [String: Logger.MetadataValue] = [:]
        for (name, value) in HeaderRedaction.redacted(headers) {
            let key = name.lowercased()
            if case .array(let values) = byName[key] {
                byName[key] = .array(values + [.string(value)])
            } else {
                byName[key] = .array([.string(value)])
            }
        }
        return ["headers": .dictionary(byName)]
    }
}
