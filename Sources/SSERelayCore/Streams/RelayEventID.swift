/// A relay id, `<generation>-<seq>` (docs/protocol.md, "Event ids"): the generation's random token and the number of
/// an event within it, counted from 1; `-0` names the position before the first event.
public struct RelayEventID: Sendable, Hashable, CustomStringConvertible {
    /// The generation's token: 16 lowercase hex digits (64 random bits).
    public var generation: String
    public var sequence: Int

    public init(generation: String, sequence: Int) {
        self.generation = generation
        self.sequence = sequence
    }

    /// Parses a `Last-Event-ID` value; `nil` when it is not a relay id (then it may be an id the
    /// upstream gave).
    public init?(parsing text: String) {
        guard let dash = text.lastIndex(of: "-") else { return nil }
        let token = text[..<dash]
        let digits = text[text.index(after: dash)...]
        guard token.utf8.count == Self.tokenLength, token.utf8.allSatisfy(Self.isLowerHex),
            !digits.isEmpty, digits.utf8.count <= 18, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let sequence = Int(digits)
        else { return nil }
        self.init(generation: String(token), sequence: sequence)
    }

    public var description: String { "\(self.generation)-\(self.sequence)" }

    /// The suffix that makes a relay id an end marker.
    static let endSuffix = ".end"

    /// The suffix that makes a relay id a failure marker.
    static let failureSuffix = ".failed"

    /// The end marker after event `sequence`: `<generation>-<seq>.end`, the last id a client
    /// of a generation that finished cleanly is given (see ``StreamRequestResolution``).
    public var endMarker: String { self.description + Self.endSuffix }

    /// The failure marker after event `sequence`: `<generation>-<seq>.failed`, the id of the
    /// failure event that closes the responses of a generation that ended abnormally, so the
    /// reconnect that follows says the client saw the failure (see ``StreamRequestResolution``).
    public var failureMarker: String { self.description + Self.failureSuffix }

    /// Whether `text` is an end marker: a relay id followed by `.end`.
    public static func isEndMarker(_ text: String) -> Bool {
        Self(parsing: text, suffix: Self.endSuffix) != nil
    }

    /// The relay id inside a failure marker, or `nil` when `text` is not one.
    public init?(parsingFailureMarker text: String) {
        self.init(parsing: text, suffix: Self.failureSuffix)
    }

    /// The relay id before `suffix`, when `text` is exactly that.
    private init?(parsing text: String, suffix: String) {
        guard text.hasSuffix(suffix) else { return nil }
        self.init(parsing: String(text.dropLast(suffix.count)))
    }

    /// A new random generation token.
    public static func makeGenerationToken<Generator: RandomNumberGenerator>(using generator: inout Generator) -> String
    {
        let value = UInt64.random(in: .min ... .max, using: &generator)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: Self.tokenLength - hex.count) + hex
    }

    /// A new random generation token from the system's generator.
    public static func makeGenerationToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return self.makeGenerationToken(using: &generator)
    }

    static let tokenLength = 16

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
    }
}
