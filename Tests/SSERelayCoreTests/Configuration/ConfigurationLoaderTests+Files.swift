import Foundation
import Testing

@testable import SSERelayCore

/// Loading from a path: missing, unreadable and empty files, and the file named in errors.
extension ConfigurationLoaderTests {
    private static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sse-relay-test-\(UUID().uuidString).json").path
    }

    @Test("A missing file is reported against its path")
    func missingFile() throws {
        let path = Self.temporaryPath()
        let error = try #require(
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(fileAt: path) })
        #expect(error.source == path)
        #expect(error.problems.count == 1)
        #expect(error.problems.first?.location == "(file)")
        #expect(error.problems.first?.message.hasPrefix("cannot read the file: ") == true)
        #expect(error.description.hasPrefix("\(path): (file): cannot read the file: "))
    }

    @Test("A directory is not a configuration file")
    func directoryIsNotAFile() throws {
        let path = FileManager.default.temporaryDirectory.path
        let error = try #require(
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(fileAt: path) })
        #expect(error.source == path)
        #expect(error.problems.first?.location == "(file)")
    }

    @Test("A file on disk is read and validated")
    func fileOnDisk() throws {
        let path = Self.temporaryPath()
        try Data(#"{"listen": "127.0.0.1:18080", "streams": [{"path": "/events/:id", "retryMs": null}]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try ConfigurationLoader.load(fileAt: path)
        #expect(configuration.listen == HostAndPort(host: "127.0.0.1", port: 18080))
        #expect(configuration.streams.map(\.path.description) == ["/events/:id"])
        #expect(configuration.streams.first?.retryMs == nil)
    }

    @Test("Problems in a file on disk name the file")
    func badFileOnDisk() throws {
        let path = Self.temporaryPath()
        try Data(#"{"streams": [{"retryMs": "2s"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(fileAt: path) })
        #expect(error.source == path)
        #expect(error.description.hasPrefix("\(path): streams[0].retryMs: expected a whole number"))
    }

    @Test("An empty file is invalid JSON, reported against the file")
    func emptyFile() throws {
        let path = Self.temporaryPath()
        try Data().write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(fileAt: path) })
        #expect(error.source == path)
        #expect(error.problems.first?.message.hasPrefix("not valid JSON") == true)
    }
}
