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

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}
