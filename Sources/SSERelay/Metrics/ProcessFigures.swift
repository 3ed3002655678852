#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's own resource figures, read from `/proc/self` at scrape time: the
/// `process_*` metrics every Prometheus client library exports.
///
/// Read rather than tracked so the numbers are the kernel's, whatever allocated them. Off
/// Linux (no `/proc`) every figure is `nil` and the metric keeps its last value.
struct ProcessFigures: Sendable, Equatable {
    var residentMemoryBytes: Int?
    var openFileDescriptors: Int?
    var cpuSeconds: Double?

    /// The current figures.
    static func read() -> ProcessFigures {
        ProcessFigures(
            residentMemoryBytes: Self.residentMemoryBytes(),
            openFileDescriptors: Self.openFileDescriptors(),
            cpuSeconds: Self.cpuSeconds()
        )
    }

    /// The second field of `/proc/self/statm` is the resident set in pages.
    private static func residentMemoryBytes() -> Int? {
        guard let statm = Self.contents(of: "/proc/self/statm") else { return nil }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Where `d_name` starts in a `dirent`.
    private static let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)

    /// The entries of `/proc/self/fd`, less the one the listing itself opens.
    ///
    /// Only the first byte of each name is read, where it lies: glibc sizes each entry to its
    /// name, so copying the whole 256-byte `d_name` field (as `entry.pointee.d_name` does) reads
    /// past the end of the last entry in its buffer; AddressSanitizer caught it once a process
    /// held enough descriptors to fill that buffer.
    private static func openFileDescriptors() -> Int? {
        guard let nameOffset = Self.nameOffset, let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        // Bounded by the process's descriptors (the hard limit).
        while let entry = readdir(directory) {
            let isDotEntry =
                UnsafeRawPointer(entry).load(fromByteOffset: nameOffset, as: UInt8.self) == UInt8(ascii: ".")
            if !isDotEntry {
                count += 1
            }
        }
        return count - 1
    }

    /// `utime` and `stime` of `/proc/self/stat` (fields 14 and 15), in clock ticks. The fields
    /// are counted after the command name's closing parenthesis, since the name may hold spaces.
    private static func cpuSeconds() -> Double? {
        guard let stat = Self.contents(of: "/proc/self/stat"),
            let nameEnd = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
        // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ticksPerSecond > 0 ? (user + system) / ticksPerSecond : nil
    }

    /// A small `/proc` file as text; `nil` when it cannot be read.
    private static func contents(of path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: bytes[..<count], as: UTF8.self)
    }
}
