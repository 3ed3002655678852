import NIOCore
import NIOHTTP1

/// A request body on its way from the client to the upstream: what arrived, when, and what
/// waits for an upstream connection.
struct RequestUpload {
    /// Request parts read before a connection was attached, sent once it is. Starts with room
    /// for one and grows: most requests have no body, and a stream holds its exchange for hours.
    var pendingParts = CircularBuffer<HTTPClientRequestPart>(initialCapacity: 1)
    /// Whether the body is being read into ``pendingParts`` before an upstream connection is
    /// taken (`limits.requestBodyBufferBytes`): a slow upload then holds only its own client
    /// connection.
    var isBuffering = false
    /// Body bytes read from the client.
    var bytes = 0
    /// When the request head arrived: the whole body must follow within
    /// `limits.requestBodyTimeoutSeconds`.
    let startTime: NIODeadline
    /// When the last body part arrived (or the head, before any).
    var lastProgress: NIODeadline

    init(startTime: NIODeadline) {
        self.startTime = startTime
        self.lastProgress = startTime
    }
}
