/// The position of a value inside the configuration document, written the way a user finds it
/// in the file: `streams[0].replay.maxEvents`.
public struct ConfigurationKeyPath: Sendable, Hashable, CustomStringConvertible {
    /// One step into the document.
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    /// The document itself.
    public static let root = ConfigurationKeyPath(components: [])

    public init(components: [Component]) {
        self.components = components
    }

    /// The path of a key inside the object at this path.
    public func appending(_ key: String) -> ConfigurationKeyPath {
        ConfigurationKeyPath(components: self.components + [.key(key)])
    }

    /// The path of an element of the array at this path.
    public func appending(index: Int) -> ConfigurationKeyPath {
        ConfigurationKeyPath(components: self.components + [.index(index)])
    }

    public var description: String {
        guard !self.components.isEmpty else { return "(top level)" }
        var text = ""
        for component in self.components {
            switch component {
            case .key(let key) where Self.isPlain(key):
                if !text.isEmpty { text += "." }
                text += key
            case .key(let key):
                // An empty key or one with dots, spaces or quotes, written so it cannot be
                // mistaken for a path: `upstream[""]`, `limits["max connections"]`.
                var escaped = ""
                for character in key {
                    if character == "\\" || character == "\"" { escaped.append("\\") }
                    escaped.append(character)
                }
                text += "[\"\(escaped)\"]"
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }

    /// Whether `key` reads unambiguously after a dot: letters, digits, `_` and `-` only.
    private static func isPlain(_ key: String) -> Bool {
        !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
                    || $0 == "-"
            }
    }
}
