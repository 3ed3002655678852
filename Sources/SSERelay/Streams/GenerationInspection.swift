import NIOCore
import SSERelayCore

/// What the stream engine shows of one generation and its clients at one moment: plain values
/// for the admin listener to render (`/streams`), read under the generation's lock and on each
/// client's loop.
struct GenerationInspection {
    /// The token every relay id of the generation starts with.
    var token: String
    var key: StreamKey
    var state: GenerationStateMachine.State
    /// How long ago the generation started.
    var age: TimeAmount
    /// Events read from the upstream so far.
    var events: Int
    /// Events still in the replay buffer, and their bytes.
    var retainedEvents: Int
    var bufferedBytes: Int
    /// The upstream's answer, once there is one.
    var answer: Generation.Answer?
    /// The upstream server the generation was placed on, once it was.
    var server: String?
    var clients: [Client]

    /// One connected client.
    struct Client {
        var remoteAddress: String?
        var mode: StreamSubscriber.Mode
        var connected: TimeAmount
        /// Events written to this client.
        var deliveredEvents: Int
        /// Bytes written but not yet taken by the client's socket.
        var queuedBytes: Int
        /// Bytes between the client's position and the newest event; `nil` when its position
        /// was evicted.
        var lagBytes: Int?
    }
}
