import NIOCore

/// When a listener whose accepts fail says so in the log: at most one line per ``interval``,
/// each with the number of failures since the line before.
///
/// Out of descriptors, every accept fails; one line per failure would flood the log (and
/// journald) exactly when the machine is in trouble, and none at all leaves the operator
/// guessing. A value with no clock of its own, so it is tested with made-up instants.
struct AcceptErrorThrottle {
    /// The least time between two lines.
    let interval: TimeAmount
    private var lastLine: NIODeadline?
    /// Failures not yet reported in a line.
    private var unreported = 0
    /// Whether failures were logged and no line has said that accepting works again.
    private(set) var isFailing = false

    init(interval: TimeAmount = .seconds(1)) {
        self.interval = interval
    }

    /// Counts one failed accept at `now`; returns how many failures the line to write now
    /// reports (this one included), or `nil` when a line was written less than ``interval`` ago.
    mutating func failed(at now: NIODeadline) -> Int? {
        self.unreported += 1
        self.isFailing = true
        return self.lineIsDue(at: now) ? self.takeUnreported(at: now) : nil
    }

    /// Notes a successful accept at `now`; returns the failures since the last line when a
    /// "recovered" line is due: the first success after failures, once ``interval`` has passed
    /// since the last line (until then the next success is asked again).
    mutating func succeeded(at now: NIODeadline) -> Int? {
        guard self.isFailing, self.lineIsDue(at: now) else { return nil }
        self.isFailing = false
        return self.takeUnreported(at: now)
    }

    private func lineIsDue(at now: NIODeadline) -> Bool {
        guard let last = self.lastLine else { return true }
        return now - last >= self.interval
    }

    private mutating func takeUnreported(at now: NIODeadline) -> Int {
        defer { self.unreported = 0 }
        self.lastLine = now
        return self.unreported
    }
}
