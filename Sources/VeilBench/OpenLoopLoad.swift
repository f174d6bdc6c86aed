import Foundation
import VeilCore

/// An open-loop load generator: request `i` is due at `start + i / rate`, whether or not earlier
/// requests have answered, so a slow server builds a queue instead of slowing the client down.
///
/// Each request's latency is measured from its scheduled time, not from when it was actually sent:
/// time a request spent waiting behind a stalled dispatcher or a busy server counts against the
/// server, so coordinated omission cannot hide queueing (Tene, "How NOT to measure latency").
struct OpenLoopLoad {
    /// Requests per second.
    let rate: Double
    /// Requests in the run.
    let count: Int

    /// What one run measured.
    struct Report: Sendable {
        /// Seconds from each successful request's scheduled time to its full response, ascending.
        var latencies: [Double]
        /// Requests that threw or answered anything but success.
        var errors: Int
        /// Seconds from the first scheduled time to the last response.
        var seconds: Double

        /// Completed requests (successful or not) per second of the run.
        var achievedRate: Double { Double(latencies.count + errors) / seconds }
    }

    /// Runs the load. `request(i)` sends request `i` and returns whether it succeeded; a thrown error
    /// counts as a failure.
    func run(_ request: @escaping @Sendable (Int) async throws -> Bool) async -> Report {
        let clock = ContinuousClock()
        let interval = Duration.seconds(1 / rate)
        let start = clock.now + .milliseconds(10)
        return await withTaskGroup(of: Double?.self) { group in
            for index in 0..<count {
                let due = start + interval * index
                try? await Task.sleep(until: due, clock: clock)
                group.addTask {
                    let ok = (try? await request(index)) ?? false
                    return ok ? (clock.now - due).seconds : nil
                }
            }
            var report = Report(latencies: [], errors: 0, seconds: 0)
            report.latencies.reserveCapacity(count)
            for await latency in group {
                if let latency { report.latencies.append(latency) } else { report.errors += 1 }
            }
            report.seconds = (clock.now - start).seconds
            report.latencies.sort()
            return report
        }
    }
}
