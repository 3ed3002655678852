/// `limits`: the bounds that protect the relay and the machine.
public struct LimitsConfiguration: Sendable, Hashable {
    /// `limits.maxConnections` (integer, default 50000): client connections held at once; the
    /// next one is answered `503` with `Retry-After` and closed.
    public var maxConnections = 50_000
    /// `limits.maxHeaderBytes` (integer, default 32768): request line plus header block; larger
    /// is answered `431`.
    public var maxHeaderBytes = 32_768
    /// `limits.clientQueueBytes` (integer, default 1048576): bytes a stream client may lag
    /// behind before it is dropped.
    public var clientQueueBytes = 1_048_576
    /// `limits.replayMemoryBytes` (integer, default 268435456): replay buffers of all
    /// generations together.
    public var replayMemoryBytes = 268_435_456
    /// `limits.headerReadTimeoutSeconds` (number, default 10): how long a new connection may take
    /// to send its first request head (slowloris guard); answered `408`.
    public var headerReadTimeoutSeconds: Double = 10
    /// `limits.idleTimeoutSeconds` (number, default 60): how long a keep-alive connection may
    /// wait between requests before it is closed.
    public var idleTimeoutSeconds: Double = 60

    public init() {}

    init(reading reader: inout ConfigurationObjectReader) {
        self.init()
        self.maxConnections = reader.integer("maxConnections", default: self.maxConnections, in: 1...10_000_000)
        self.maxHeaderBytes = reader.integer("maxHeaderBytes", default: self.maxHeaderBytes, in: 1024...1_048_576)
        self.clientQueueBytes = reader.integer(
            "clientQueueBytes", default: self.clientQueueBytes, in: 4096...1_073_741_824)
        self.replayMemoryBytes = reader.integer(
            "replayMemoryBytes", default: self.replayMemoryBytes, in: 0...(1 << 40))
        self.headerReadTimeoutSeconds = reader.seconds(
            "headerReadTimeoutSeconds", default: self.headerReadTimeoutSeconds, in: 0.001...3600)
        self.idleTimeoutSeconds = reader.seconds(
            "idleTimeoutSeconds", default: self.idleTimeoutSeconds, in: 0.001...86400)
    }
}
