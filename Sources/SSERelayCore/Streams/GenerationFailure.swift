/// Why a generation's upstream ended abnormally, as the failure event tells the page.
///
/// The raw values are the public words a page reads from the failure event's data: they name
/// what happened without the detail (addresses, limits), which goes only to the relay's log.
public enum GenerationFailure: String, Sendable, Hashable, CaseIterable {
    /// The upstream connection was reset, closed or failed in the middle of the stream.
    case upstreamClosed = "upstream_closed"
    /// The upstream sent something that is not a valid event stream (such as a line over the
    /// parser's size limit).
    case invalidStream = "invalid_stream"
    /// The relay cancelled the upstream: nobody came back within the linger time, or the
    /// lingering budget was spent.
    case cancelled
}
