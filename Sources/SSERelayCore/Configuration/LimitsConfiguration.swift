/// `limits`: the bounds that protect the relay and the machine.
public struct LimitsConfiguration: Sendable, Hashable {
    /// `limits.maxConnections` (integer or `null`, default `null` = derived): client connections
    /// held at once; the next one is answered `503` with `Retry-After` and closed.
    ///
    /// `nil` (the key absent or `null`) means derived at start from the process's open-files
    /// limit, so that every client connection and its upstream connection fit in the
    /// descriptors (the server module's `ConnectionCapacity`). A fixed default such as 50,000
    /// would promise connections that a 4,096-descriptor process cannot open, and it would
    /// then spin on failing `accept` calls instead of answering `503`.
    public var maxConnections: Int?
    /// `limits.maxHeaderBytes` (integer, default 32768): request line plus header block; larger
    /// is answered `431`.
    public var maxHeaderBytes = 32_768
    /// `limits.maxHeaderCount` (integer, default 256): header fields in one request head; more
    /// is answered `431`. Browsers send about 20.
    public var maxHeaderCount = 256
    /// `limits.maxRequestBodyBytes` (integer, default 0 = unlimited): the largest request body
    /// passed through; a larger one is answered `413`. Unlimited by default because bodies are
    /// streamed with backpressure and never held in memory; the backend keeps its own limit.
    public var maxRequestBodyBytes = 0
    /// `limits.maxGenerations` (integer, default 100000): generations held at once, open or
    /// retained for resumption. At the limit the oldest ended one makes room for a new one;
    /// when all are open, a new stream request is refused (per the route's `upstreamFailure`).
    public var maxGenerations = 100_000
    /// `limits.maxClientsPerGeneration` (integer, default 20000): clients of one generation;
    /// one more is refused like a generation over `maxGenerations`.
    public var maxClientsPerGeneration = 20_000
    /// `limits.clientQueueBytes` (integer, default 1048576): bytes a stream client may lag
    /// behind before it is dropped.
    public var clientQueueBytes = 1_048_576
    /// `limits.replayMemoryBytes` (integer, default 268435456): the memory of the replay
    /// buffers of all generations together: each event's allocation, its id and a fixed
    /// per-event overhead (``ReplayBuffer/entryOverhead``), not only its payload.
    public var replayMemoryBytes = 268_435_456
    /// `limits.maxLingeringGenerations` (integer, default 1024): generations whose upstream
    /// may run on with no client at once. One whose last client leaves when the budget is spent
    /// is cancelled at once instead of lingering for `upstreamLingerSeconds`.
    public var maxLingeringGenerations = 1024
    /// `limits.maxLingeringPerClient` (integer, default 16): lingering generations started by
    /// one client address (see `clientAddressHeader`).
    public var maxLingeringPerClient = 16
    /// `limits.streamStartsPerClientPerMinute` (integer, default 120; 0 = no limit): new
    /// generations one client address may start per minute, sustained. Joins and resumes do
    /// not count. Over it, a stream request is answered `429` with `Retry-After`.
    public var streamStartsPerClientPerMinute = 120
    /// `limits.streamStartBurstPerClient` (integer, default 60): new generations one client
    /// address may start at once before `streamStartsPerClientPerMinute` applies.
    public var streamStartBurstPerClient = 60
    /// `limits.clientAddressHeader` (header name or null, default null): where the per-client
    /// budgets read the client's address. `null` uses the connection's peer address; behind a
    /// load balancer that is the balancer's own, so name the header it sets (such as
    /// `X-Forwarded-For`: its last address is used, the one the balancer added). Only set it
    /// when every request comes through such a balancer: a client could send the header itself.
    public var clientAddressHeader: String?
    /// `limits.requestBodyBufferBytes` (integer, default 65536; 0 = no buffering): a request
    /// body up to this size is read whole before an upstream connection is taken for it, so a
    /// slow upload holds only its own client connection, as nginx's request buffering does.
    /// Larger bodies are streamed once this much has arrived.
    public var requestBodyBufferBytes = 65_536
    /// `limits.requestBodyTimeoutSeconds` (number, default 60): the whole request body must
    /// arrive within this time of the request head, however steadily it trickles; answered
    /// `408`. Raise it where large uploads over slow links are expected.
    public var requestBodyTimeoutSeconds: Double = 60
    /// `limits.headerReadTimeoutSeconds` (number, default 10): how long a new connection may take
    /// to send its first request head (slowloris guard); answered `408`.
    public var headerReadTimeoutSeconds: Double = 10
    /// `limits.idleTimeoutSeconds` (number, default 60): how long a keep-alive connection may
    /// wait between requests before it is closed.
    public var idleTimeoutSeconds: Double = 60

    public init() {}

    init(reading reader: inout ConfigurationObjectReader) {
        self.init()
        self.maxConnections = reader.optionalInteger("maxConnections", default: nil, in: 1...10_000_000)
        self.maxHeaderBytes = reader.integer("maxHeaderBytes", default: self.maxHeaderBytes, in: 1024...1_048_576)
        self.maxHeaderCount = reader.integer("maxHeaderCount", default: self.maxHeaderCount, in: 8...10_000)
        self.maxRequestBodyBytes = reader.integer(
            "maxRequestBodyBytes", default: self.maxRequestBodyBytes, in: 0...(1 << 50))
        self.maxGenerations = reader.integer("maxGenerations", default: self.maxGenerations, in: 1...10_000_000)
        self.maxClientsPerGeneration = reader.integer(
            "maxClientsPerGeneration", default: self.maxClientsPerGeneration, in: 1...10_000_000)
        self.clientQueueBytes = reader.integer(
            "clientQueueBytes", default: self.clientQueueBytes, in: 4096...1_073_741_824)
        self.replayMemoryBytes = reader.integer(
            "replayMemoryBytes", default: self.replayMemoryBytes, in: 0...(1 << 40))
        self.maxLingeringGenerations = reader.integer(
            "maxLingeringGenerations", default: self.maxLingeringGenerations, in: 0...10_000_000)
        self.maxLingeringPerClient = reader.integer(
            "maxLingeringPerClient", default: self.maxLingeringPerClient, in: 0...10_000_000)
        self.streamStartsPerClientPerMinute = reader.integer(
            "streamStartsPerClientPerMinute", default: self.streamStartsPerClientPerMinute, in: 0...100_000_000)
        self.streamStartBurstPerClient = reader.integer(
            "streamStartBurstPerClient", default: self.streamStartBurstPerClient, in: 1...100_000_000)
        self.clientAddressHeader = reader.optionalString("clientAddressHeader", default: self.clientAddressHeader)
        if let header = self.clientAddressHeader, !HTTPToken.isValid(header) {
            reader.report("clientAddressHeader", "expected a header name or null, got the string \"\(header)\"")
            self.clientAddressHeader = nil
        }
        self.requestBodyBufferBytes = reader.integer(
            "requestBodyBufferBytes", default: self.requestBodyBufferBytes, in: 0...(64 << 20))
        self.requestBodyTimeoutSeconds = reader.seconds(
            "requestBodyTimeoutSeconds", default: self.requestBodyTimeoutSeconds, in: 0.001...86400)
        self.headerReadTimeoutSeconds = reader.seconds(
            "headerReadTimeoutSeconds", default: self.headerReadTimeoutSeconds, in: 0.001...3600)
        self.idleTimeoutSeconds = reader.seconds(
            "idleTimeoutSeconds", default: self.idleTimeoutSeconds, in: 0.001...86400)
    }
}
