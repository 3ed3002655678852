import NIOCore

extension ProxyServer {
    /// `/metrics`: the figures read at scrape time (generations, connections, the process)
    /// are brought up to date, then the whole registry is rendered in the Prometheus text format.
    func metricsExposition() -> [UInt8] {
        let generations = self.streams.all
        return self.metrics.exposition(
            with: RelayMetrics.Readings(
                activeGenerations: generations.count { $0.isUpstreamOpen },
                retainedGenerations: generations.count,
                replayBufferBytes: self.streams.totalReplayBytes,
                clientConnections: self.connections.count,
                process: ProcessFigures.read()
            ))
    }

    /// Every generation, oldest first, or the one whose token is `generation`, as it stands.
    func inspectGenerations(token: String? = nil, on eventLoop: any EventLoop) -> EventLoopFuture<
        [GenerationInspection]
    > {
        let generations = self.streams.all
            .filter { token == nil || $0.token == token }
            .sorted { $0.createdAt < $1.createdAt }
        return EventLoopFuture.whenAllSucceed(generations.map { $0.inspect() }, on: eventLoop)
    }
}

extension ProxyServer {
    /// One line for systemd's `STATUS=`: where the relay serves and what it carries now.
    var statusLine: String {
        let generations = self.streams.all
        let open = generations.count { $0.isUpstreamOpen }
        return
            "serving on \(self.localAddress.hostAndPort): \(self.connections.count) connections, \(open) open streams, \(generations.count) retained"
    }
}
