import Foundation

/// One named benchmark; `run` returns one or more results.
struct Benchmark: Sendable {
    let name: String
    let run: @Sendable () async throws -> [BenchResult]
}

/// One line of VeilBench output.
struct BenchResult: Encodable {
    let name: String
    let value: Double
    let unit: String

    func print() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data()
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}

/// Wall-clock timing with the monotonic clock.
enum Stopwatch {
    /// Seconds taken by `body`.
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// The best (smallest) of `repetitions` timings of `body`, to damp noise from the other core.
    static func bestSeconds(repetitions: Int, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<repetitions { best = min(best, try seconds(body)) }
        return best
    }
}

/// Keeps the optimiser from deleting a computation whose result is otherwise unused.
@inline(never)
func blackHole<T>(_ value: T) { _ = value }
