import Foundation

/// A file in the temporary directory, removed when the value goes away.
final class TemporaryFile {
    let path: String

    init(_ contents: String) throws {
        self.path =
            FileManager.default.temporaryDirectory.appendingPathComponent("sse-relay-\(UUID().uuidString).json")
            .path
        try self.write(contents)
    }

    func write(_ contents: String) throws {
        try contents.write(toFile: self.path, atomically: true, encoding: .utf8)
    }

    /// Replaces the contents in the same file (``write(_:)`` replaces the file): a bind mount
    /// of this file, which holds on to the file itself, sees the new contents.
    func rewriteInPlace(_ contents: String) throws {
        guard let handle = FileHandle(forWritingAtPath: self.path) else {
            throw FixtureError("cannot open \(self.path) for writing")
        }
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(contents.utf8))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}
