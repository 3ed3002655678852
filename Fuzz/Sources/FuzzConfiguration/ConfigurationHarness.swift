import Foundation
import FuzzSupport
import SSERelayCore

/// Loads one input as a configuration file.
///
/// Invariants:
/// - `error-problems`: a rejected file comes with at least one problem.
/// - `error-location`, `error-message`: every problem has a non-empty location (key path,
///   `(top level)` or `(file)`) and a non-empty message.
/// - `valid`: an accepted configuration is within every documented bound (ports, ranges, header
///   names, unique stream paths, distinct upstream servers, each server's `Host` naming the port
///   unless it is its scheme's default, no empty `upstream.tls.caFile`, `admin.listen` apart from
///   `listen`; in a `cluster`, a database host, user and table that can be used as they are, at
///   most one password source, an advertised address other relays can reach, a renewal interval
///   within a third of the lease, and a peer listener apart from the others).
/// - `reload`: an accepted configuration, written out again as JSON by
///   ``ConfigurationEncoder`` (in one of its spellings, picked from the input's hash), loads to
///   an equal configuration.
/// - `overrides`: applying the configuration's own values as command-line flags is accepted and
///   changes nothing, except that `--upstream` (the first server's URL) makes that server the
///   only one, with weight 1.
enum ConfigurationHarness {
    static func run(_ bytes: [UInt8]) {
        let configuration: RelayConfiguration
        do {
            configuration = try ConfigurationLoader.load(json: Data(bytes), source: "fuzz.json")
        } catch {
            self.checkShape(of: error)
            return
        }
        ConfigurationValidity.check(configuration)
        var choices = SplitMix64(hashing: bytes)
        self.checkReload(configuration, choosing: &choices)
        self.checkOverrides(configuration)
    }

    private static func checkShape(of error: ConfigurationError) {
        Oracle.check(!error.problems.isEmpty, "error-problems", "an error without problems")
        for problem in error.problems {
            Oracle.check(!problem.location.isEmpty, "error-location", "a problem without a location: \(problem)")
            Oracle.check(!problem.message.isEmpty, "error-message", "a problem without a message: \(problem)")
        }
    }

    private static func checkReload(_ configuration: RelayConfiguration, choosing choices: inout SplitMix64) {
        let encoded: Data
        do {
            encoded = try ConfigurationEncoder.encode(configuration, choosing: &choices)
        } catch {
            fatalError("harness: cannot encode \(configuration): \(error)")
        }
        let text = String(decoding: encoded, as: UTF8.self)
        do {
            let reloaded = try ConfigurationLoader.load(json: encoded, source: "re-encoded.json")
            Oracle.check(
                reloaded == configuration, "reload",
                "\(configuration)\nwritten as \(text)\nreloads as \(reloaded)")
        } catch {
            Oracle.check(false, "reload", "\(configuration)\nwritten as \(text)\nis rejected: \(error)")
        }
    }

    private static func checkOverrides(_ configuration: RelayConfiguration) {
        let overrides = ConfigurationOverrides(
            listen: configuration.listen.description,
            upstream: configuration.upstream.url.description,
            admin: configuration.admin.listen?.description,
            logLevel: configuration.log.level.rawValue
        )
        // `--upstream` stands for `upstream.url`, whose setter makes its server the only one.
        var expected = configuration
        expected.upstream.servers = [UpstreamServerConfiguration(url: configuration.upstream.url)]
        do {
            let applied = try overrides.applied(to: configuration)
            Oracle.check(
                applied == expected, "overrides",
                "flags \(overrides) turn \(configuration) into \(applied)")
        } catch {
            Oracle.check(false, "overrides", "flags \(overrides) are rejected: \(error)")
        }
    }
}
