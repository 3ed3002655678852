import SSERelayCore

extension DirectoryLease {
    /// The lease on `generation`'s key, recording it as the key's newest generation here.
    init(newestOf generation: Generation) {
        let snapshot = generation.snapshot()
        self.init(
            key: generation.key.directoryID, generation: generation.token,
            state: snapshot.isUpstreamOpen ? .active : snapshot.hasFailed ? .failed : .finished)
    }
}
