/// `upstream.servers[]`: one backend server among several, and its share of the traffic.
public struct UpstreamServerConfiguration: Sendable, Hashable {
    /// `upstream.servers[].url` (string, required): the server's origin, read as `upstream.url`.
    public var url: UpstreamURL
    /// `upstream.servers[].weight` (integer 1–100, default 1): the server's share relative to
    /// the others, for pass-through requests and for the streams placed on it alike.
    public var weight: Int

    /// The range `weight` accepts.
    public static let weights = 1...100

    public init(url: UpstreamURL, weight: Int = 1) {
        self.url = url
        self.weight = weight
    }
}

extension UpstreamServerConfiguration {
    /// Reads one element of `upstream.servers`: a URL string (weight 1) or
    /// `{ "url": …, "weight": … }`; `nil` (with the problem reported) when it is neither.
    init?(reading value: JSONValue, at path: ConfigurationKeyPath, problems: ConfigurationProblems) {
        if case .string(let text) = value {
            do {
                self.init(url: try UpstreamURL(parsing: text))
            } catch {
                problems.report(path, "\(error.message), got \(value.summary)")
                return nil
            }
            return
        }
        guard case .object = value else {
            problems.report(path, "expected a URL string or an object with url and weight, got \(value.summary)")
            return nil
        }
        guard var reader = ConfigurationObjectReader(value, at: path, problems: problems) else { return nil }
        let url = reader.parsed("url", default: UpstreamURL?.none) { text throws(ConfigurationValueError) in
            try UpstreamURL(parsing: text)
        }
        let weight = reader.integer("weight", default: 1, in: Self.weights)
        let hadURL = reader.value("url") != nil
        reader.finish()
        guard let url else {
            if !hadURL { problems.report(path.appending("url"), "required: the server's http:// URL") }
            return nil
        }
        self.init(url: url, weight: weight)
    }
}
