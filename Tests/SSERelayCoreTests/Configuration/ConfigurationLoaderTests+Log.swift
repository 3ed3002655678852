import Testing

@testable import SSERelayCore

/// `log`: level, format and whether headers are logged.
extension ConfigurationLoaderTests {
    @Test(
        "A bad log setting is reported at its key path with a reason",
        arguments: [
            (#"{"log": "debug"}"#, "log", #"expected an object, got the string "debug""#),
            (
                #"{"log": {"level": "loud"}}"#, "log.level",
                #"expected one of "trace", "debug", "info", "notice", "warning", "error", "critical", got the string "loud""#
            ),
            (#"{"log": {"level": "INFO"}}"#, "log.level", #"got the string "INFO""#),
            (#"{"log": {"format": "xml"}}"#, "log.format", #"expected one of "json", "text", got the string "xml""#),
            (#"{"log": {"headers": "true"}}"#, "log.headers", #"expected true or false, got the string "true""#),
        ]
    )
    func badLog(json: String, location: String, messagePart: String) throws {
        try Self.expectBadValue(json, at: location, saying: messagePart)
    }
}
