import FuzzSupport
import NIOHTTP1
import SSERelayCore

/// Checks ``ResponseFraming`` for the request's method and version against RFC 9112 §6.
///
/// Invariant `response-framing`: no body after `HEAD`, 1xx, 204 or 304, and no
/// `Content-Length` on 1xx or 204; otherwise the upstream's `Content-Length` when there is one,
/// chunked only to an HTTP/1.1 client (with exactly one `Transfer-Encoding: chunked`), and
/// until-close otherwise; never both `Content-Length` and `Transfer-Encoding`.
enum ResponseFramingOracle {
    static let statuses: [HTTPResponseStatus] = [.continue, .ok, .noContent, .notModified, .notFound]

    static func check(_ head: HTTPRequestHead) {
        for status in self.statuses {
            for contentLength in [nil, "5"] {
                var headers = HTTPHeaders()
                if let contentLength {
                    headers.add(name: "Content-Length", value: contentLength)
                }
                let framing = ResponseFraming.frame(
                    headers: &headers, status: status, requestMethod: head.method, clientVersion: head.version)
                let expected: ResponseFraming
                if head.method == .HEAD || (100..<200).contains(status.code) || status.code == 204
                    || status.code == 304
                {
                    expected = .noBody
                } else if contentLength != nil {
                    expected = .contentLength
                } else if head.version.major == 1 && head.version.minor >= 1 {
                    expected = .chunked
                } else {
                    expected = .untilClose
                }
                let context =
                    "\(head.method) \(head.version), \(status.code), Content-Length \(contentLength ?? "none")"
                Oracle.check(framing == expected, "response-framing", "\(context): \(framing), expected \(expected)")
                let lengths = headers["content-length"]
                let encodings = headers["transfer-encoding"]
                Oracle.check(
                    lengths.isEmpty || encodings.isEmpty, "response-framing", "\(context): both framing headers")
                Oracle.check(
                    encodings == (framing == .chunked ? ["chunked"] : []), "response-framing",
                    "\(context): Transfer-Encoding \(encodings)")
                if (100..<200).contains(status.code) || status.code == 204 {
                    Oracle.check(lengths.isEmpty, "response-framing", "\(context): Content-Length \(lengths)")
                }
            }
        }
    }
}
