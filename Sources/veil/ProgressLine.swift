import Foundation

/// A one-line progress display on stderr, shown only when stderr is a terminal (quiet in pipes and CI).
final class ProgressLine: @unchecked Sendable {
    private let total: Int
    private let label: String
    private let enabled = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var lastDrawn = ContinuousClock.now

    init(total: Int, label: String) {
        self.total = total
        self.label = label
    }

    /// Redraws at most ten times a second.
    func update(_ done: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        guard now - lastDrawn > .milliseconds(100) || done == total else { return }
        lastDrawn = now
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        FileHandle.standardError.write(Data("\r[\(Self.bar(fraction))] \(done)/\(total) \(label)".utf8))
    }

    /// A 30-character bar, `#` for the part done and `.` for the rest; `fraction` is clamped to 0…1.
    static func bar(_ fraction: Double) -> String {
        let width = 30
        let filled = Int(min(1, max(0, fraction)) * Double(width))
        return String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    }

    /// Ends the line.
    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
