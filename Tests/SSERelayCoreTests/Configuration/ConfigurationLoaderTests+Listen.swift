import Testing

@testable import SSERelayCore

/// `listen`, and the rule that the admin listener needs an address of its own.
extension ConfigurationLoaderTests {
    @Test(
        "A bad listen address is reported with a reason",
        arguments: [
            (
                #"{"listen": "8080"}"#, "listen",
                #"expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got the string "8080""#
            ),
            (#"{"listen": 8080}"#, "listen", "expected a string, got the number 8080"),
            (#"{"listen": null}"#, "listen", "expected a string, got null"),
            (#"{"listen": "[::1]:99999"}"#, "listen", "(port 0 to 65535)"),
        ]
    )
    func badListen(json: String, location: String, messagePart: String) throws {
        try Self.expectBadValue(json, at: location, saying: messagePart)
    }

    @Test(
        "admin.listen must differ from listen",
        arguments: [
            (#"{"listen": "127.0.0.1:7000", "admin": {"listen": "127.0.0.1:7000"}}"#, "127.0.0.1:7000"),
            (#"{"listen": "127.0.0.1:9090"}"#, "127.0.0.1:9090"),
            (#"{"admin": {"listen": "127.0.0.1:8080"}}"#, "127.0.0.1:8080"),
            (#"{"listen": "[::1]:80", "admin": {"listen": "[::1]:80"}}"#, "[::1]:80"),
        ]
    )
    func adminEqualsListen(json: String, address: String) throws {
        let error = try #require(Self.failure(json))
        #expect(error.problems == [.init(location: "admin.listen", message: "must differ from listen (\(address))")])
    }

    @Test(
        "Listeners on different addresses, on port 0, or without an admin listener are fine",
        arguments: [
            #"{"listen": "127.0.0.1:7000", "admin": {"listen": "127.0.0.1:7001"}}"#,
            #"{"listen": "127.0.0.1:7000", "admin": {"listen": "127.0.0.2:7000"}}"#,
            #"{"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"}}"#,
            #"{"listen": "127.0.0.1:9090", "admin": {"listen": null}}"#,
        ]
    )
    func listenersApart(json: String) throws {
        let configuration = try Self.load(json)
        #expect(configuration != RelayConfiguration())
    }
}
