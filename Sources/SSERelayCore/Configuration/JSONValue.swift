/// A JSON document as a tree of values.
///
/// The configuration is decoded into this tree first and walked afterwards, instead of being
/// decoded straight into `Codable` types, because `Decodable` stops at the first problem and
/// cannot see unknown keys. Walking the tree lets ``ConfigurationLoader`` report every problem
/// of a file at once, each with its key path.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// A short description of the value's kind and, for scalars, the value itself, for error
    /// messages: `the string "abc"`, `the number 2.5`, `an object`.
    var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return "\(value)"
        case .number(let value): return "the number \(value.formattedForMessage)"
        case .string(let value): return "the string \"\(value)\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}

extension Double {
    /// `2` for whole numbers, `2.5` otherwise: how a number reads in an error message.
    var formattedForMessage: String {
        if self.rounded() == self, abs(self) < 1e15 {
            return String(Int64(self))
        }
        return String(self)
    }
}
