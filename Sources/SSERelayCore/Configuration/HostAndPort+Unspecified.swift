extension HostAndPort {
    /// Whether the host is the unspecified address, `0.0.0.0` or `::` (in any spelling of its
    /// zeros, such as `0:0:0:0:0:0:0:0`): a listener bound there accepts on every address of the
    /// machine, and no other machine can connect to it by that address.
    var hasUnspecifiedHost: Bool {
        self.host == "0.0.0.0" || (self.host.contains(":") && self.host.allSatisfy { $0 == "0" || $0 == ":" })
    }
}
