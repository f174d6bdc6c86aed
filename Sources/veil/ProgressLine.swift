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
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) \(label)".utf8))
    }

    /// Ends the line.
    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
