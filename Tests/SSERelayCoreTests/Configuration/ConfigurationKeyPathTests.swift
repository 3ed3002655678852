import Testing

@testable import SSERelayCore

/// How a configuration problem names the key it is about.
@Suite("ConfigurationKeyPath")
struct ConfigurationKeyPathTests {
    @Test("key paths quote keys that would not read as a path")
    func keyPaths() {
        #expect(ConfigurationKeyPath.root.appending("").description == #"[""]"#)
        #expect(ConfigurationKeyPath.root.appending("upstream").appending("").description == #"upstream[""]"#)
        #expect(ConfigurationKeyPath.root.appending("a.b").description == #"["a.b"]"#)
        #expect(ConfigurationKeyPath.root.appending(#"q"\"#).description == #"["q\"\\"]"#)
        #expect(
            ConfigurationKeyPath.root.appending("streams").appending(index: 0).appending("retryMs").description
                == "streams[0].retryMs")
    }
}
