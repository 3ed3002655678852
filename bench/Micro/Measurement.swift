/// Times one operation in a release build: batches of `work` until a run lasts at least
/// `minimumRun`, five runs, and the fastest run's rate (the one least disturbed by whatever
/// else the machine does).
struct Measurement {
    let name: String
    /// What one call of `work` processes, in `unit`s (bytes, events, lookups).
    let unitsPerCall: Int
    let unit: String
    let work: () -> Int

    static let runs = 5
    static let minimumRun = Duration.milliseconds(300)

    /// Units per second of the fastest run, and a checksum of what `work` returned (printed,
    /// so the optimizer cannot drop the work).
    func run() -> (rate: Double, checksum: Int) {
        let clock = ContinuousClock()
        var best = 0.0
        var checksum = 0
        for _ in 0..<Self.runs {
            var calls = 0
            let start = clock.now
            var elapsed = Duration.zero
            // Bounded: at most 2^26 calls per run, whatever the clock says.
            while elapsed < Self.minimumRun, calls < 1 << 26 {
                for _ in 0..<16 {
                    checksum &+= self.work()
                }
                calls += 16
                elapsed = clock.now - start
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            best = max(best, Double(calls * self.unitsPerCall) / seconds)
        }
        return (best, checksum)
    }
}
