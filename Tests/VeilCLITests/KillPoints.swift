import Foundation
import VeilTestSupport
import VeilCore

/// Where a fault test kills a process: after a delay, or at the moment a file grows (the process has
/// just written its audit record or its WAL frames). Delays come from a seeded generator, so a run
/// that finds a defect can be repeated exactly.
enum KillPoint: CustomStringConvertible {
    /// `delay` after the process started (or after the load's first acknowledgement).
    case after(Duration)
    /// As soon as `file` is larger than it was when the process started (polled every 0.2 ms).
    case whenGrows(URL)

    var description: String {
        switch self {
        case .after(let delay): "after \(Int(delay.milliseconds)) ms"
        case .whenGrows(let file): "when \(file.lastPathComponent) grows"
        }
    }

    /// Waits until the point is reached, or `timeout` passes, or `stillRunning` says the process is
    /// gone. Returns whether the point was reached (a file that never grew was not).
    func wait(timeout: Duration = .seconds(60), stillRunning: () -> Bool) -> Bool {
        switch self {
        case .after(let delay):
            Thread.sleep(forTimeInterval: delay.seconds)
            return true
        case .whenGrows(let file):
            let start = Self.size(of: file)
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline && stillRunning() {
                if Self.size(of: file) > start { return true }
                usleep(200)
            }
            return false
        }
    }

    static func size(of file: URL) -> Int64 {
        var info = stat()
        return stat(file.path, &info) == 0 ? Int64(info.st_size) : -1
    }

    /// `count` delays drawn uniformly from `range` by a generator seeded with `seed`, sorted.
    static func delays(_ count: Int, in range: ClosedRange<Int>, seed: UInt64) -> [KillPoint] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in Int.random(in: range, using: &generator) }.sorted().map { .after(.milliseconds($0)) }
    }
}

