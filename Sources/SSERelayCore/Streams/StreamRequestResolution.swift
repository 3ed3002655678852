/// What a generation must tell ``StreamRequestResolution`` about itself.
public protocol ResumableGeneration {
    /// The generation's random token, the first half of its relay ids.
    var token: String { get }
    /// Whether the upstream request is still open (`active` or `lingering`).
    var isUpstreamOpen: Bool { get }
    /// Whether the upstream ended abnormally (reset, invalid stream, cancelled).
    var hasFailed: Bool { get }
    /// The oldest retained event's sequence number.
    var firstSequence: Int { get }
    /// The sequence number the next event will get.
    var nextSequence: Int { get }
    /// The latest retained event with this upstream id, if any (relay ids are parsed, see
    /// ``RelayEventID``).
    func sequence(ofID id: String) -> Int?
}

/// The answer to a stream request, decided from its `Last-Event-ID` and the generations the
/// relay holds for its key: every row of the table in docs/protocol.md, "Resolving a stream request".
public enum StreamRequestResolution: Sendable, Hashable {
    /// Send the events of generation `token` from sequence `cursor` on (then live events if it
    /// is still open, or the failure event if it failed). The upstream is not contacted.
    case resume(token: String, cursor: Int)
    /// The generation ended and nothing is after the client's last event: `204 No Content`,
    /// the only answer that stops `EventSource` from reconnecting.
    case noContent
    /// Join the open generation `token` at `cursor` (its start or its live end, per
    /// `joinFrom`). `replayMiss` is set when a `Last-Event-ID` was given but not usable.
    case join(token: String, cursor: Int, replayMiss: Bool)
    /// Start a new generation. `forwardedLastEventID` is the client's id when it is not a relay
    /// id and matches nothing buffered (the backend may know it); `replayMiss` is set when a
    /// relay id could not be served.
    case start(forwardedLastEventID: String?, replayMiss: Bool)

    /// Resolves a request.
    ///
    /// - Parameters:
    ///   - lastEventID: The request's `Last-Event-ID`, if any.
    ///   - generations: The generations held for the request's key, oldest first; at most one
    ///     of them is open.
    ///   - joinFrom: Where a client joining an open generation starts.
    ///   - afterFailure: What a client that was in a failed generation gets.
    ///
    /// A relay id that cannot be served (generation gone, events evicted) is dropped, and the
    /// request is then treated as one without a usable id: it joins the open generation when
    /// there is one, rather than starting a second upstream while one runs for the same key,
    /// which would bring back the duplicate completion the relay exists to prevent. For the
    /// same reason an unknown upstream id joins the open generation (without forwarding the id)
    /// when there is one, and is forwarded to a new generation only when there is none.
    ///
    /// An end marker (`<generation>-<seq>.end`, sent as the last id of a generation that
    /// finished cleanly) is answered `204` whatever the relay holds. Without it, the reconnect
    /// that follows a finished stream finds nothing on a relay that restarted or never had the
    /// generation (another instance behind a load balancer, the retention over) and starts the
    /// completion again.
    ///
    /// A failed generation is never presented as finished. With `afterFailure: .stop` a client
    /// that was in one gets the events it missed and then the failure event (whose id is a
    /// failure marker, `<generation>-<seq>.failed`), and the reconnect with that marker gets
    /// `204`: the relay never restarts a completion on its own. With `.restart`, a client
    /// whose last id is in a failed generation, or is its failure marker, is served as one
    /// with no usable id: it joins the open generation or starts a new one.
    public static func resolve<Generation: ResumableGeneration>(
        lastEventID: String?,
        generations: [Generation],
        joinFrom: StreamRouteConfiguration.JoinPosition,
        afterFailure: StreamRouteConfiguration.FailureRecovery = .stop
    ) -> StreamRequestResolution {
        var replayMiss = false
        var lastEventID = lastEventID
        if let id = lastEventID, RelayEventID.isEndMarker(id) {
            // The client was told its stream finished and it has every event: whichever relay
            // it reaches now, and whether or not that relay still holds the generation.
            return .noContent
        }
        if let id = lastEventID, RelayEventID(parsingFailureMarker: id) != nil {
            // The client saw the failure event. It stops, or it asks for the answer again.
            guard afterFailure == .restart else { return .noContent }
            lastEventID = nil
        }
        // Under `.restart`, the events of a failed generation are not served: its clients get
        // a new answer instead.
        let resumable = { (generation: Generation) in
            afterFailure == .stop || !generation.hasFailed
        }
        if let lastEventID, !lastEventID.isEmpty {
            let relayID = RelayEventID(parsing: lastEventID)
            var namesFailedGeneration = false
            if let relayID, let generation = generations.last(where: { $0.token == relayID.generation }) {
                if !resumable(generation) {
                    namesFailedGeneration = true
                } else if let resolution = self.resume(generation, after: relayID.sequence) {
                    return resolution
                }
            }
            // Any id may also be one the upstream gave (even one shaped like a relay id, when
            // another relay sits upstream): look it up among the buffered events.
            for generation in generations.reversed() {
                guard let sequence = generation.sequence(ofID: lastEventID) else { continue }
                if !resumable(generation) {
                    namesFailedGeneration = true
                } else if let resolution = self.resume(generation, after: sequence) {
                    return resolution
                }
            }
            // An id of a failed generation under `.restart` is no miss: it asks for a new answer.
            if !namesFailedGeneration {
                if relayID != nil {
                    replayMiss = true
                } else if !generations.contains(where: \.isUpstreamOpen) {
                    return .start(forwardedLastEventID: lastEventID, replayMiss: false)
                }
            }
        }
        if let open = generations.last(where: \.isUpstreamOpen) {
            let cursor = joinFrom == .start ? open.firstSequence : open.nextSequence
            return .join(token: open.token, cursor: cursor, replayMiss: replayMiss)
        }
        return .start(forwardedLastEventID: nil, replayMiss: replayMiss)
    }

    /// Resuming after event `sequence` of `generation`, or `nil` when events after it were
    /// evicted or the sequence was never given out.
    private static func resume(_ generation: some ResumableGeneration, after sequence: Int) -> StreamRequestResolution?
    {
        let cursor = sequence + 1
        guard sequence >= 0, cursor >= generation.firstSequence, cursor <= generation.nextSequence else {
            return nil
        }
        if cursor == generation.nextSequence, !generation.isUpstreamOpen, !generation.hasFailed {
            return .noContent
        }
        // At the head of a failed generation the response carries only the failure event.
        return .resume(token: generation.token, cursor: cursor)
    }
}
