import Testing

@testable import SSERelayCore

/// `limits`: the bounds on connections, heads, queues and replay memory.
extension ConfigurationLoaderTests {
    @Test(
        "A bad limit is reported at its key path with a reason",
        arguments: [
            (#"{"limits": []}"#, "limits", "expected an object, got an array"),
            (#"{"limits": {"maxConnections": 0}}"#, "limits.maxConnections", "from 1 to 10000000"),
            (
                #"{"limits": {"maxHeaderBytes": 100}}"#, "limits.maxHeaderBytes",
                "expected a whole number from 1024 to 1048576, got the number 100"
            ),
            (#"{"limits": {"maxHeaderBytes": "32k"}}"#, "limits.maxHeaderBytes", #"got the string "32k""#),
            (#"{"limits": {"clientQueueBytes": 4095}}"#, "limits.clientQueueBytes", "from 4096 to 1073741824"),
            (
                #"{"limits": {"replayMemoryBytes": -1}}"#, "limits.replayMemoryBytes",
                "from 0 to 1099511627776, got the number -1"
            ),
            (#"{"limits": {"headerReadTimeoutSeconds": 0}}"#, "limits.headerReadTimeoutSeconds", "from 0.001 to 3600"),
            (
                #"{"limits": {"idleTimeoutSeconds": 86401}}"#, "limits.idleTimeoutSeconds",
                "from 0.001 to 86400, got the number 86401"
            ),
        ]
    )
    func badLimit(json: String, location: String, messagePart: String) throws {
        try Self.expectBadValue(json, at: location, saying: messagePart)
    }
}
