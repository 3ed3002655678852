import Testing

@testable import SSERelayCore

/// `admin`: the admin listener and its token.
extension ConfigurationLoaderTests {
    @Test("admin.token is kept exactly")
    func adminToken() throws {
        #expect(try Self.load(#"{"admin": {"token": "  spaced token  "}}"#).admin.token == "  spaced token  ")
    }

    @Test(
        "A bad admin value is reported at its key path with a reason",
        arguments: [
            (#"{"admin": "127.0.0.1:9090"}"#, "admin", #"expected an object, got the string "127.0.0.1:9090""#),
            (#"{"admin": null}"#, "admin", "expected an object, got null"),
            (#"{"admin": {"listen": "9090"}}"#, "admin.listen", "expected HOST:PORT"),
            (#"{"admin": {"listen": 9090}}"#, "admin.listen", "expected a string, got the number 9090"),
            (#"{"admin": {"listen": false}}"#, "admin.listen", "expected a string, got false"),
            (#"{"admin": {"token": ""}}"#, "admin.token", "must not be empty (use null for no token)"),
            (#"{"admin": {"token": 123}}"#, "admin.token", "expected a string or null, got the number 123"),
            (#"{"admin": {"token": true}}"#, "admin.token", "expected a string or null, got true"),
        ]
    )
    func badAdmin(json: String, location: String, messagePart: String) throws {
        try Self.expectBadValue(json, at: location, saying: messagePart)
    }
}
