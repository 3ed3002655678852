import Foundation
import Testing

@testable import SSERelayCore

/// `config.example.json`, the annotated example shipped with the relay, spells out the defaults.
@Suite("config.example.json")
struct ExampleConfigurationTests {
    @Test("the example file carries exactly the embedded defaults")
    func exampleIsTheDefaults() throws {
        // The repository root is the nearest folder above this file that holds Package.swift,
        // however deep the file sits under Tests/.
        var root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
            let parent = root.deletingLastPathComponent()
            try #require(parent.path != root.path, "no Package.swift above \(#filePath)")
            root = parent
        }
        let path = root.appendingPathComponent("config.example.json").path
        let configuration = try ConfigurationLoader.load(fileAt: path)
        #expect(configuration == RelayConfiguration())
    }
}
