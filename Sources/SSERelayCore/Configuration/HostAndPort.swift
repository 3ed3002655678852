/// A `HOST:PORT` pair to listen on or to connect to: `127.0.0.1:8080`, `[::1]:8080`,
/// `localhost:3000`. Port 0 asks the operating system for a free port.
public struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; an IPv6 host is written in brackets, and only an IPv6 host (one with
    /// a `:`): a bracket anywhere else would not be written back the way it was read.
    public init(parsing text: String) throws(ConfigurationValueError) {
        let expectation = "expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080"
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                text[text.index(after: close)...].hasPrefix(":")
            else { throw ConfigurationValueError(expectation) }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ConfigurationValueError(expectation)
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "[" || $0 == "]" }),
            !text.hasPrefix("[") || host.contains(":")
        else {
            throw ConfigurationValueError(expectation)
        }
        // Digits only: `Int(_:)` alone would take a sign (`+443`), which no URL parser accepts.
        guard portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let port = Int(portText), (0...65535).contains(port)
        else {
            throw ConfigurationValueError("\(expectation) (port 0 to 65535)")
        }
        self.init(host: String(host), port: port)
    }

    /// The host as it is written before `:PORT`, here and in a URL: an IPv6 address in
    /// brackets (`[::1]`), any other host as it is.
    var uriHost: String {
        self.host.contains(":") ? "[\(self.host)]" : self.host
    }

    public var description: String { "\(self.uriHost):\(self.port)" }
}
