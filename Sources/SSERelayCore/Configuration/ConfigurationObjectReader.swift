/// Reads the keys of one JSON object of the configuration, applying defaults and reporting
/// every bad value and every unknown key with its key path.
///
/// Each accessor marks its key as known; ``finish()`` then reports the keys nobody asked for,
/// which catches typos such as `retryMS` that would otherwise fall back to a default silently.
/// A bad value is reported and replaced by the default, so reading carries on and the whole
/// document is checked in one pass.
struct ConfigurationObjectReader {
    let path: ConfigurationKeyPath
    private let fields: [String: JSONValue]
    private let problems: ConfigurationProblems
    private var knownKeys: Set<String> = []

    /// A reader for `value` at `path`, or `nil` (with a problem reported) when the value is not
    /// an object.
    init?(_ value: JSONValue, at path: ConfigurationKeyPath, problems: ConfigurationProblems) {
        guard case .object(let fields) = value else {
            problems.report(path, "expected an object, got \(value.summary)")
            return nil
        }
        self.path = path
        self.fields = fields
        self.problems = problems
    }

    /// The raw value of `key`, marking the key as known. `nil` when the key is absent.
    mutating func value(_ key: String) -> JSONValue? {
        self.knownKeys.insert(key)
        return self.fields[key]
    }

    /// Reports a problem with the value of `key`.
    func report(_ key: String, _ message: String) {
        self.problems.report(self.path.appending(key), message)
    }

    /// How many problems the whole document has so far, this object's and every other's: a
    /// check of several keys compares it before and after reading them, to run only on values
    /// that were read as written rather than replaced by their defaults.
    var reportedProblemCount: Int {
        self.problems.problems.count
    }

    /// Reports every key of the object that no accessor asked for.
    func finish() {
        for key in self.fields.keys.sorted() where !self.knownKeys.contains(key) {
            let known = self.knownKeys.sorted().joined(separator: ", ")
            self.problems.report(self.path.appending(key), "unknown key (known keys here: \(known))")
        }
    }

    // MARK: Scalars

    /// A boolean, or `defaultValue` when absent.
    mutating func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let value = self.value(key) else { return defaultValue }
        guard case .bool(let bool) = value else {
            self.report(key, "expected true or false, got \(value.summary)")
            return defaultValue
        }
        return bool
    }

    /// A whole number within `range`, or `defaultValue` when absent.
    mutating func integer(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) -> Int {
        self.optionalInteger(key, default: defaultValue, in: range, nullable: false) ?? defaultValue
    }

    /// A whole number within `range`, `null`, or `defaultValue` when absent.
    mutating func optionalInteger(
        _ key: String,
        default defaultValue: Int?,
        in range: ClosedRange<Int>,
        nullable: Bool = true
    ) -> Int? {
        guard let value = self.value(key) else { return defaultValue }
        let expectation =
            "expected a whole number from \(range.lowerBound) to \(range.upperBound)\(nullable ? " or null" : "")"
        switch value {
        case .null where nullable:
            return nil
        case .number(let number)
        where number.rounded() == number && number >= Double(range.lowerBound)
            && number <= Double(range.upperBound):
            return Int(number)
        default:
            self.report(key, "\(expectation), got \(value.summary)")
            return defaultValue
        }
    }

    /// A duration in seconds within `range` (fractions allowed), or `defaultValue` when absent.
    mutating func seconds(_ key: String, default defaultValue: Double, in range: ClosedRange<Double>) -> Double {
        self.optionalSeconds(key, default: defaultValue, in: range, nullable: false) ?? defaultValue
    }

    /// A duration in seconds within `range`, `null`, or `defaultValue` when absent.
    mutating func optionalSeconds(
        _ key: String,
        default defaultValue: Double?,
        in range: ClosedRange<Double>,
        nullable: Bool = true
    ) -> Double? {
        guard let value = self.value(key) else { return defaultValue }
        switch value {
        case .null where nullable:
            return nil
        case .number(let number) where range.contains(number):
            return number
        default:
            let bounds = "\(range.lowerBound.formattedForMessage) to \(range.upperBound.formattedForMessage)"
            self.report(
                key, "expected a number of seconds from \(bounds)\(nullable ? " or null" : ""), got \(value.summary)")
            return defaultValue
        }
    }

    /// A string, `null` when `nullable`, or `defaultValue` when absent.
    mutating func optionalString(_ key: String, default defaultValue: String?, nullable: Bool = true) -> String? {
        guard let value = self.value(key) else { return defaultValue }
        switch value {
        case .null where nullable:
            return nil
        case .string(let string):
            return string
        default:
            self.report(key, "expected a string\(nullable ? " or null" : ""), got \(value.summary)")
            return defaultValue
        }
    }

    /// One of the raw values of `Choice`, or `defaultValue` when absent.
    mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String,
        default defaultValue: Choice
    ) -> Choice where Choice.RawValue == String {
        guard let value = self.value(key) else { return defaultValue }
        if case .string(let string) = value, let choice = Choice(rawValue: string) {
            return choice
        }
        let choices = Choice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        self.report(key, "expected one of \(choices), got \(value.summary)")
        return defaultValue
    }

    /// A string turned into a `Value` by `parse`, which throws a message for bad input; or
    /// `defaultValue` when absent.
    mutating func parsed<Value>(
        _ key: String,
        default defaultValue: Value,
        _ parse: (String) throws(ConfigurationValueError) -> Value
    ) -> Value {
        guard let value = self.value(key) else { return defaultValue }
        guard case .string(let string) = value else {
            self.report(key, "expected a string, got \(value.summary)")
            return defaultValue
        }
        do {
            return try parse(string)
        } catch {
            self.report(key, "\(error.message), got \(value.summary)")
            return defaultValue
        }
    }

    // MARK: Nested values

    /// The object at `key` read by `read`, or `defaultValue` when absent or not an object.
    mutating func object<Value>(
        _ key: String,
        default defaultValue: Value,
        _ read: (inout ConfigurationObjectReader) -> Value
    ) -> Value {
        guard let value = self.value(key) else { return defaultValue }
        guard var reader = ConfigurationObjectReader(value, at: self.path.appending(key), problems: self.problems)
        else { return defaultValue }
        let result = read(&reader)
        reader.finish()
        return result
    }

    /// The array at `key` with each element read by `read`, or `defaultValue` when absent.
    mutating func array<Element>(
        _ key: String,
        default defaultValue: [Element],
        _ read: (JSONValue, ConfigurationKeyPath, ConfigurationProblems) -> Element?
    ) -> [Element] {
        guard let value = self.value(key) else { return defaultValue }
        guard case .array(let elements) = value else {
            self.report(key, "expected an array, got \(value.summary)")
            return defaultValue
        }
        let arrayPath = self.path.appending(key)
        return elements.enumerated().compactMap { index, element in
            read(element, arrayPath.appending(index: index), self.problems)
        }
    }

    /// The array at `key` with each element read by `read`, `nil` for `null`, or
    /// `defaultValue` when absent.
    mutating func optionalArray<Element>(
        _ key: String,
        default defaultValue: [Element]?,
        _ read: (JSONValue, ConfigurationKeyPath, ConfigurationProblems) -> Element?
    ) -> [Element]? {
        if case .null = self.value(key) { return nil }
        guard case .array = self.fields[key] else {
            guard let value = self.fields[key] else { return defaultValue }
            self.report(key, "expected an array or null, got \(value.summary)")
            return defaultValue
        }
        return self.array(key, default: defaultValue ?? [], read)
    }
}

/// Why a string value could not be parsed; the reader adds the key path and the value.
public struct ConfigurationValueError: Error, Sendable, Hashable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}
