/// A strict parser of the Prometheus text exposition format (version 0.0.4), for checking what
/// `/metrics` serves: it rejects anything a Prometheus server would reject, and a little more
/// (a sample before its family's `# TYPE`, a counter not named `…_total`, histogram buckets that
/// are not cumulative or do not end at `+Inf` equal to `_count`).
struct PrometheusExposition {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    enum MetricType: String {
        case counter, gauge, histogram, summary, untyped
    }

    struct Invalid: Error, CustomStringConvertible {
        var line: Int
        var reason: String
        var description: String { "line \(self.line): \(self.reason)" }
    }

    private(set) var samples: [Sample] = []
    private(set) var types: [String: MetricType] = [:]
    private(set) var help: [String: String] = [:]

    init(parsing text: String) throws {
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                try self.parseComment(String(line), line: lineNumber)
            } else {
                try self.parseSample(String(line), line: lineNumber)
            }
        }
        try self.checkHistograms()
    }

    /// The value of the sample `name` with exactly `labels`, if present.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        self.samples.first { $0.name == name && $0.labels == labels }?.value
    }

    // MARK: Parsing

    private mutating func parseComment(_ line: String, line number: Int) throws {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else {
            return  // An ordinary comment.
        }
        let name = String(parts[2])
        guard Self.isMetricName(name) else { throw Invalid(line: number, reason: "bad metric name \(name)") }
        let rest = parts.count > 3 ? String(parts[3]) : ""
        if parts[1] == "HELP" {
            guard self.help[name] == nil else { throw Invalid(line: number, reason: "second HELP for \(name)") }
            self.help[name] = rest
        } else {
            guard self.types[name] == nil else { throw Invalid(line: number, reason: "second TYPE for \(name)") }
            guard !self.samples.contains(where: { Self.family(of: $0.name, in: [name: .untyped]) == name }) else {
                throw Invalid(line: number, reason: "TYPE for \(name) after its samples")
            }
            guard let type = MetricType(rawValue: rest) else {
                throw Invalid(line: number, reason: "unknown type \(rest)")
            }
            if type == .counter, !name.hasSuffix("_total") {
                throw Invalid(line: number, reason: "counter \(name) is not named …_total")
            }
            self.types[name] = type
        }
    }

    private mutating func parseSample(_ line: String, line number: Int) throws {
        var rest = Substring(line)
        let name = String(rest.prefix { $0 != "{" && $0 != " " })
        guard Self.isMetricName(name) else { throw Invalid(line: number, reason: "bad metric name \(name)") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            // Bounded: each pass consumes one label or the closing brace.
            while rest.first != "}" {
                let labelName = String(rest.prefix { $0 != "=" })
                guard Self.isLabelName(labelName) else {
                    throw Invalid(line: number, reason: "bad label name \(labelName)")
                }
                rest = rest.dropFirst(labelName.count)
                guard rest.hasPrefix("=\"") else { throw Invalid(line: number, reason: "expected =\"") }
                rest = rest.dropFirst(2)
                var value = ""
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if character == "\"" {
                        closed = true
                        break
                    }
                    if character == "\\" {
                        guard let escaped = rest.first else { break }
                        rest = rest.dropFirst()
                        switch escaped {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Invalid(line: number, reason: "bad escape \\\(escaped)")
                        }
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { throw Invalid(line: number, reason: "unterminated label value") }
                guard labels.updateValue(value, forKey: labelName) == nil else {
                    throw Invalid(line: number, reason: "duplicate label \(labelName)")
                }
                if rest.first == "," {
                    rest = rest.dropFirst()
                } else if rest.first != "}" {
                    throw Invalid(line: number, reason: "expected , or }")
                }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Invalid(line: number, reason: "expected a space before the value") }
        let fields = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 1 || fields.count == 2, let value = Self.parseValue(fields[0]) else {
            throw Invalid(line: number, reason: "bad value \(rest)")
        }
        if fields.count == 2, Int64(fields[1]) == nil {
            throw Invalid(line: number, reason: "bad timestamp \(fields[1])")
        }
        guard let family = Self.family(of: name, in: self.types) else {
            throw Invalid(line: number, reason: "sample \(name) before its TYPE")
        }
        let sample = Sample(name: name, labels: labels, value: value)
        guard !self.samples.contains(where: { $0.name == name && $0.labels == labels }) else {
            throw Invalid(line: number, reason: "duplicate sample \(name) \(labels)")
        }
        if self.types[family] == .counter, value < 0 {
            throw Invalid(line: number, reason: "negative counter \(name)")
        }
        self.samples.append(sample)
    }

    /// Every histogram: cumulative buckets ending at `+Inf`, which equals `_count`.
    private func checkHistograms() throws {
        for (family, type) in self.types where type == .histogram {
            let buckets = self.samples.filter { $0.name == family + "_bucket" }
            var series: [[String: String]: [(Double, Double)]] = [:]
            for bucket in buckets {
                guard let bound = bucket.labels["le"].flatMap(Self.parseValue) else {
                    throw Invalid(line: 0, reason: "\(family) bucket without a valid le")
                }
                var others = bucket.labels
                others["le"] = nil
                series[others, default: []].append((bound, bucket.value))
            }
            for (labels, points) in series {
                let sorted = points.sorted { $0.0 < $1.0 }
                guard sorted.last?.0 == .infinity else {
                    throw Invalid(line: 0, reason: "\(family) has no +Inf bucket")
                }
                for (lower, upper) in zip(sorted, sorted.dropFirst()) where upper.1 < lower.1 {
                    throw Invalid(line: 0, reason: "\(family) buckets are not cumulative")
                }
                guard self.value(family + "_count", labels) == sorted.last?.1,
                    self.value(family + "_sum", labels) != nil
                else {
                    throw Invalid(line: 0, reason: "\(family) +Inf bucket differs from _count, or _sum is missing")
                }
            }
        }
    }

    // MARK: Lexical rules

    /// The family a sample belongs to: its own name, or the name without a histogram or
    /// summary suffix.
    private static func family(of name: String, in types: [String: MetricType]) -> String? {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if let type = types[base], type == .histogram || type == .summary || type == .untyped {
                return base
            }
        }
        return nil
    }

    private static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" || first == ":" else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    private static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    private static func parseValue(_ text: some StringProtocol) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
