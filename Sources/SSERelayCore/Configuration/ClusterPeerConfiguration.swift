/// `cluster.peer`: where this relay listens for requests other relays forward to it, the
/// address they use to reach it, and the secret that proves a request came from a relay.
public struct ClusterPeerConfiguration: Sendable, Hashable {
    /// `cluster.peer.listen` (string `host:port`, required): where the peer listener binds. Port
    /// 0 takes one the system chooses. Never the address of `listen` or `admin.listen`.
    public var listen: HostAndPort
    /// `cluster.peer.advertise` (string `host:port` or `null`, default `null`): the address
    /// other relays reach this one at, recorded in the directory with every claim. `null`
    /// advertises `listen`'s host with the port the peer listener is bound to
    /// (``advertisedAddress(boundPort:)``), which needs a `listen` host that names one
    /// interface: with `0.0.0.0` or `::` this key is required. Never port 0, `0.0.0.0` or `::`.
    public var advertise: HostAndPort?
    /// `cluster.peer.secretFile` (string, required): a file whose content, without a trailing
    /// newline, every relay of the cluster shares: at least 16 bytes. A request on the peer
    /// listener without it is refused. Only the path is read here; the server reads the file.
    public var secretFile: String

    public init(listen: HostAndPort, secretFile: String) {
        self.listen = listen
        self.secretFile = secretFile
    }

    /// The address this relay records in the directory: ``advertise``, or else ``listen``'s host
    /// with `boundPort`, the port the peer listener was given (which differs from `listen`'s only
    /// when that is 0). The reader made sure that `listen`'s host then names one interface.
    public func advertisedAddress(boundPort: Int) -> HostAndPort {
        self.advertise ?? HostAndPort(host: self.listen.host, port: boundPort)
    }
}

extension ClusterPeerConfiguration {
    /// Reads `cluster.peer`; `nil` when `listen` or `secretFile` is missing or bad (reported).
    init?(reading reader: inout ConfigurationObjectReader) {
        let listen = reader.parsed("listen", default: HostAndPort?.none) { text throws(ConfigurationValueError) in
            try HostAndPort(parsing: text)
        }
        if reader.value("listen") == nil {
            reader.report("listen", "required: where the peer listener binds, such as 10.0.0.5:8081")
        }
        let advertise: HostAndPort?
        switch reader.value("advertise") {
        case nil, .null?:
            advertise = nil
            if let listen, listen.hasUnspecifiedHost {
                reader.report(
                    "advertise",
                    "required when cluster.peer.listen binds every address (\(listen)): the address other relays "
                        + "reach this one at, such as 10.0.0.5:\(listen.port == 0 ? 8081 : listen.port)")
            }
        default:
            advertise = reader.parsed("advertise", default: nil, Self.parseAdvertise)
        }
        let secretFile = reader.parsed("secretFile", default: String?.none) { text throws(ConfigurationValueError) in
            guard !text.isEmpty else { throw ConfigurationValueError("expected a path to a file") }
            return text
        }
        if reader.value("secretFile") == nil {
            reader.report(
                "secretFile", "required: a file with the secret every relay of the cluster shares (at least 16 bytes)")
        }
        guard let listen, let secretFile else { return nil }
        self.init(listen: listen, secretFile: secretFile)
        self.advertise = advertise
    }

    /// An address other relays can connect to: a host that names one interface, and a port.
    private static func parseAdvertise(_ text: String) throws(ConfigurationValueError) -> HostAndPort? {
        let address = try HostAndPort(parsing: text)
        guard !address.hasUnspecifiedHost else {
            throw ConfigurationValueError("expected an address other relays can reach, not 0.0.0.0 or ::")
        }
        guard address.port != 0 else {
            throw ConfigurationValueError("expected the port other relays connect to, not 0")
        }
        return address
    }
}
