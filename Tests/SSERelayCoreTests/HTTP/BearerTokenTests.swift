import Testing

@testable import SSERelayCore

/// `admin.token` checking: the accepted header shapes and the constant-time compare.
@Suite("Bearer token")
struct BearerTokenTests {
    @Test(
        "accepted and refused Authorization values",
        arguments: [
            ("Bearer s3cret", true),
            ("bearer s3cret", true),
            ("BEARER s3cret", true),
            ("  Bearer   s3cret  ", true),
            ("Bearer s3cre", false),
            ("Bearer s3crets", false),
            ("Bearer S3cret", false),
            ("Basic s3cret", false),
            ("s3cret", false),
            ("Bearer", false),
            ("", false),
        ])
    func authorization(value: String, accepted: Bool) {
        #expect(BearerToken("s3cret").accepts(authorization: value) == accepted)
    }

    @Test("a missing header is refused")
    func missing() {
        #expect(!BearerToken("s3cret").accepts(authorization: nil))
    }

    @Test("the compare looks at every byte")
    func constantTime() {
        #expect(BearerToken.constantTimeEquals(Array("abcd".utf8), Array("abcd".utf8)))
        #expect(!BearerToken.constantTimeEquals(Array("abcd".utf8), Array("abce".utf8)))
        #expect(!BearerToken.constantTimeEquals(Array("xbcd".utf8), Array("abcd".utf8)))
        #expect(!BearerToken.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(BearerToken.constantTimeEquals([], []))
    }
}
