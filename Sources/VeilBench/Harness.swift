import Foundation
import Glibc
import VeilCore

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
        return (ContinuousClock.now - start).seconds
    }

    /// Seconds taken by the asynchronous `body`.
    static func seconds(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        return (ContinuousClock.now - start).seconds
    }

    /// The best (smallest) of `repetitions` timings of `body`, to damp noise from the other core.
    static func bestSeconds(repetitions: Int, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<repetitions { best = min(best, try seconds(body)) }
        return best
    }

    /// The best of `repetitions` timings of the asynchronous `body`.
    static func bestSeconds(repetitions: Int, _ body: () async throws -> Void) async rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<repetitions { best = min(best, try await seconds(body)) }
        return best
    }

    /// User + system CPU time of this process so far (all threads), to tell work from waiting on a
    /// shared machine.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

/// Keeps the optimiser from deleting a computation whose result is otherwise unused.
@inline(never)
func blackHole<T>(_ value: T) { _ = value }

/// The process's resident memory (Linux: /proc/self/status) and its peak since `resetPeak`.
enum ResidentMemory {
    /// Starts a new peak: first gives the heap the allocator holds free back to the kernel
    /// (`malloc_trim`), so that what earlier work in this process freed does not count, then resets
    /// VmHWM to the current resident set (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0). What the
    /// process still holds (live objects, fragmented heap) counts in the next peak, so it errs high.
    static func resetPeak() {
        _ = trimHeap?(0)
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// glibc's `malloc_trim` (malloc.h, which Swift's Glibc module does not export), found at run time;
    /// nil with another C library, where the peak then also counts the free heap.
    private static let trimHeap: (@convention(c) (Int) -> Int32)? = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim").map {
        unsafeBitCast($0, to: (@convention(c) (Int) -> Int32).self)
    }

    /// VmHWM in bytes, or 0 where it cannot be read.
    static func peakBytes() -> Double { statusBytes("VmHWM:") }

    /// VmRSS in bytes, or 0 where it cannot be read.
    static func currentBytes() -> Double { statusBytes("VmRSS:") }

    private static func statusBytes(_ field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field) {
            return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) * 1024
        }
        return 0
    }
}
