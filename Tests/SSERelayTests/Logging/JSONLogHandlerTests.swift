import Foundation
import Logging
import Testing

@testable import SSERelay

/// ``JSONText`` writes the JSON of log lines; every text it produces must be JSON that
/// Foundation reads back as the value that went in. ``JSONLogHandler/timestamp()`` is RFC 3339.
@Suite("JSONLogHandler")
struct JSONLogHandlerTests {
    /// A parsed JSON value, comparable in tests.
    indirect enum Parsed: Equatable, Sendable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case array([Parsed])
        case object([String: Parsed])
        case null

        init(foundation value: Any) throws {
            switch value {
            case let string as String:
                self = .string(string)
            case let number as NSNumber:
                // Foundation hands booleans back as NSNumber too; their type code is "c".
                if String(cString: number.objCType) == "c" {
                    self = .bool(number.boolValue)
                } else {
                    self = .number(number.doubleValue)
                }
            case let array as [Any]:
                self = .array(try array.map(Parsed.init(foundation:)))
            case let object as [String: Any]:
                self = .object(try object.mapValues(Parsed.init(foundation:)))
            case is NSNull:
                self = .null
            default:
                throw UnexpectedValue(description: "\(type(of: value))")
            }
        }

        struct UnexpectedValue: Error {
            var description: String
        }
    }

    /// Parses `text` as one JSON value, allowing a bare string or number at the top.
    private static func parse(_ text: String) throws -> Parsed {
        try Parsed(foundation: JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]))
    }

    private static func stringLiteral(_ string: String) -> String {
        var text = ""
        JSONText.appendString(string, to: &text)
        return text
    }

    private static func json(_ value: Logger.MetadataValue) -> String {
        var text = ""
        JSONText.append(value, to: &text)
        return text
    }

    // MARK: Strings

    struct StringCase: Sendable, CustomTestStringConvertible {
        var input: String
        var literal: String

        var testDescription: String { self.input.debugDescription }
    }

    static let stringCases: [StringCase] = [
        StringCase(input: "", literal: #""""#),
        StringCase(input: "plain text", literal: #""plain text""#),
        StringCase(input: #"say "hi""#, literal: #""say \"hi\"""#),
        StringCase(input: #"C:\path\"#, literal: #""C:\\path\\""#),
        StringCase(input: "line\nbreak", literal: #""line\nbreak""#),
        StringCase(input: "carriage\rreturn", literal: #""carriage\rreturn""#),
        StringCase(input: "crlf\r\n", literal: #""crlf\r\n""#),
        StringCase(input: "tab\there", literal: #""tab\there""#),
        StringCase(input: "nul\u{0}", literal: #""nul\u0000""#),
        StringCase(input: "\u{1}\u{8}\u{b}\u{c}", literal: #""\u0001\u0008\u000b\u000c""#),
        StringCase(input: "esc\u{1b}[0m", literal: #""esc\u001b[0m""#),
        StringCase(input: "unit\u{1f}sep", literal: #""unit\u001fsep""#),
        StringCase(input: "space and del \u{7f}", literal: "\"space and del \u{7f}\""),
        StringCase(input: "/slash/", literal: #""/slash/""#),
        StringCase(input: "café 日本語 🙂", literal: "\"café 日本語 🙂\""),
        StringCase(input: "e\u{301}", literal: "\"e\u{301}\""),
        StringCase(input: "\u{2028}\u{2029}", literal: "\"\u{2028}\u{2029}\""),
        StringCase(input: #"\"\n"#, literal: #""\\\"\\n""#),
    ]

    @Test("strings are escaped exactly as expected", arguments: Self.stringCases)
    func stringEscaping(testCase: StringCase) {
        let literal = Self.stringLiteral(testCase.input)
        #expect(Array(literal.unicodeScalars) == Array(testCase.literal.unicodeScalars))
    }

    @Test("every escaped string parses back to itself", arguments: Self.stringCases)
    func stringRoundTrip(testCase: StringCase) throws {
        let parsed = try Self.parse(Self.stringLiteral(testCase.input))
        guard case .string(let string) = parsed else {
            Issue.record("not a string: \(parsed)")
            return
        }
        #expect(Array(string.unicodeScalars) == Array(testCase.input.unicodeScalars))
    }

    @Test("every control character is escaped and round-trips", arguments: 0..<0x20)
    func controlCharacters(value: Int) throws {
        let scalar = try #require(Unicode.Scalar(value))
        let input = "<\(Character(scalar))>"
        let literal = Self.stringLiteral(input)
        #expect(
            literal.unicodeScalars.allSatisfy { $0.value >= 0x20 },
            "raw control character in \(literal.debugDescription)")
        let parsed = try Self.parse(literal)
        #expect(parsed == .string(input))
    }

    @Test("appending adds to the text instead of replacing it")
    func appendsToExistingText() {
        var text = "{\"k\":"
        JSONText.appendString("v", to: &text)
        JSONText.append(.stringConvertible(3), to: &text)
        #expect(text == #"{"k":"v"3"#)
    }

    // MARK: Metadata values

    struct Quoted: CustomStringConvertible, Sendable {
        var description: String { "a \"quoted\"\nvalue" }
    }

    struct ValueCase: Sendable, CustomTestStringConvertible {
        var name: String
        var value: Logger.MetadataValue
        var text: String
        var parsed: Parsed

        var testDescription: String { self.name }
    }

    /// Computed, not a `static let`: `Logger.MetadataValue` stores its payloads with a tag in the
    /// high bits of the pointer, which LeakSanitizer does not recognise, so a global table of them
    /// was reported as leaked by `swift test --sanitize=address` (`.ci/sanitize`).
    static var valueCases: [ValueCase] {
        [
            ValueCase(name: "string", value: .string("x"), text: #""x""#, parsed: .string("x")),
            ValueCase(name: "string that looks like a number", value: "42", text: #""42""#, parsed: .string("42")),
            ValueCase(name: "Int", value: .stringConvertible(42), text: "42", parsed: .number(42)),
            ValueCase(name: "negative Int", value: .stringConvertible(-7), text: "-7", parsed: .number(-7)),
            ValueCase(
                name: "Int64", value: .stringConvertible(Int64.min), text: "-9223372036854775808",
                parsed: .number(-9.223372036854775808e18)),
            ValueCase(
                name: "UInt64", value: .stringConvertible(UInt64(1) << 40), text: "1099511627776",
                parsed: .number(1_099_511_627_776)),
            ValueCase(name: "true", value: .stringConvertible(true), text: "true", parsed: .bool(true)),
            ValueCase(name: "false", value: .stringConvertible(false), text: "false", parsed: .bool(false)),
            ValueCase(name: "Double", value: .stringConvertible(1.5), text: "1.5", parsed: .number(1.5)),
            ValueCase(name: "negative Double", value: .stringConvertible(-0.25), text: "-0.25", parsed: .number(-0.25)),
            ValueCase(name: "whole Double", value: .stringConvertible(3.0), text: "3.0", parsed: .number(3)),
            ValueCase(name: "large Double", value: .stringConvertible(1e20), text: "1e+20", parsed: .number(1e20)),
            ValueCase(
                name: "small Double", value: .stringConvertible(0.00001), text: "1e-05", parsed: .number(0.00001)),
            ValueCase(name: "NaN", value: .stringConvertible(Double.nan), text: #""nan""#, parsed: .string("nan")),
            ValueCase(
                name: "infinity", value: .stringConvertible(Double.infinity), text: #""inf""#, parsed: .string("inf")),
            ValueCase(
                name: "-infinity", value: .stringConvertible(-Double.infinity), text: #""-inf""#,
                parsed: .string("-inf")),
            ValueCase(
                name: "other convertible",
                value: .stringConvertible(Quoted()),
                text: #""a \"quoted\"\nvalue""#,
                parsed: .string("a \"quoted\"\nvalue")
            ),
            ValueCase(name: "empty array", value: .array([]), text: "[]", parsed: .array([])),
            ValueCase(name: "empty dictionary", value: .dictionary([:]), text: "{}", parsed: .object([:])),
            ValueCase(
                name: "array of mixed values",
                value: .array([.string("a"), .stringConvertible(1), .stringConvertible(true), .array([.string("b")])]),
                text: #"["a",1,true,["b"]]"#,
                parsed: .array([.string("a"), .number(1), .bool(true), .array([.string("b")])])
            ),
            ValueCase(
                name: "nested dictionaries with sorted keys",
                value: .dictionary([
                    "b": .array([.string("x"), .stringConvertible(2.5), .dictionary([:])]),
                    "a": .dictionary(["z": .stringConvertible(false), "y": .string("line\n")]),
                    "B": .string("upper"),
                    "key \"q\"": .stringConvertible(0),
                ]),
                text: #"{"B":"upper","a":{"y":"line\n","z":false},"b":["x",2.5,{}],"key \"q\"":0}"#,
                parsed: .object([
                    "B": .string("upper"),
                    "a": .object(["y": .string("line\n"), "z": .bool(false)]),
                    "b": .array([.string("x"), .number(2.5), .object([:])]),
                    "key \"q\"": .number(0),
                ])
            ),
        ]
    }

    @Test("metadata values become the expected JSON text", arguments: Self.valueCases)
    func valueText(testCase: ValueCase) {
        #expect(Self.json(testCase.value) == testCase.text)
    }

    @Test("metadata JSON parses back to the expected value", arguments: Self.valueCases)
    func valueRoundTrip(testCase: ValueCase) throws {
        #expect(try Self.parse(Self.json(testCase.value)) == testCase.parsed)
    }

    @Test("dictionary keys come out sorted however the dictionary is built")
    func keysSorted() throws {
        var dictionary: Logger.Metadata = [:]
        let keys = (0..<50).map { "k\(($0 * 37) % 50)" }
        for key in keys {
            dictionary[key] = .string(key)
        }
        let text = Self.json(.dictionary(dictionary))
        let order = keys.sorted().compactMap { key in text.range(of: "\"\(key)\":")?.lowerBound }
        #expect(order.count == keys.count)
        #expect(order == order.sorted())
        #expect(try Self.parse(text) == .object(Dictionary(uniqueKeysWithValues: keys.map { ($0, .string($0)) })))
    }

    // MARK: Timestamp

    @Test("the timestamp is RFC 3339 UTC with milliseconds, and is now")
    func timestampFormat() throws {
        let before = Date()
        let stamp = JSONLogHandler.timestamp()
        let after = Date()

        let pattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/
        let match = try #require(stamp.wholeMatch(of: pattern), "\(stamp) is not YYYY-MM-DDTHH:MM:SS.mmmZ")
        #expect((1...12).contains(Int(match.2)!))
        #expect((1...31).contains(Int(match.3)!))
        #expect((0...23).contains(Int(match.4)!))
        #expect((0...59).contains(Int(match.5)!))
        #expect((0...60).contains(Int(match.6)!))

        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(formatter.date(from: stamp))
        // Truncated to the millisecond, so it may be up to 1 ms before `before`.
        #expect(date.timeIntervalSince(before) > -0.002)
        #expect(date.timeIntervalSince(after) < 0.002)
    }
}
