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
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }
}
