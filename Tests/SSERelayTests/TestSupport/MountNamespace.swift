import Foundation

/// Runs a process in a mount namespace of its own, where a file of the test's is bind-mounted
/// over a system file (a hosts file over `/etc/hosts`), with util-linux's `unshare`.
///
/// `unshare --map-root-user --mount` needs no privilege where the kernel allows unprivileged
/// user namespaces (Debian's default), and works as root everywhere. `.ci/run` checks that it
/// works, so the tests that need it never skip there.
enum MountNamespace {
    /// Whether `unshare --map-root-user --mount` works here.
    static let isAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["unshare", "--map-root-user", "--mount", "true"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return false
        }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// A launcher for ``RelayProcess``: the command it is given runs (by `exec`, so its pid is
    /// the launcher's) with `source` bind-mounted over `target`.
    static func launcher(bindMounting source: String, over target: String) -> [String] {
        [
            "/usr/bin/env", "unshare", "--map-root-user", "--mount", "sh", "-c",
            #"mount --bind "$1" "$2" && shift 2 && exec "$@""#, "sh", source, target,
        ]
    }
}
