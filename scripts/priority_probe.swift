// How long a task resumed from another thread waits for the cooperative pool when the pool is busy
// (docs/deploy.md, "Measuring": who runs while a reservation group holds the locks). A measurement
// tool, not part of Veil: 50 tasks run 100 µs jobs back to back (the callers of a closed loop), and
// a probe task awaits a continuation that another thread resumes 0.5 ms later — as NIO resumes a
// query's awaiter — 300 times, at the default priority and at `.high`; it prints the wait's p50, p90
// and p99 (resumed → running). On Linux a higher priority runs on threads of its own.
//
//   swiftc -O scripts/priority_probe.swift -o /tmp/priority_probe && /tmp/priority_probe
import Dispatch
import Foundation
import Synchronization

@inline(never) func spin(_ micros: Double) {
    let end = DispatchTime.now().uptimeNanoseconds + UInt64(micros * 1000)
    var x = 0.0
    while DispatchTime.now().uptimeNanoseconds < end { x += sin(x) }
    if x == 42 { print(x) }
}

/// Tells the busy tasks to stop.
final class Stop: Sendable { let flag = Atomic(false) }

func probe(priority: TaskPriority?, rounds: Int) async -> [Double] {
    let stop = Stop()
    let background = Task {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { while !stop.flag.load(ordering: .relaxed) { spin(100); await Task.yield() } } }
        }
    }
    try? await Task.sleep(nanoseconds: 50_000_000)
    let probeTask = Task.detached(priority: priority) { () -> [Double] in
        var waits: [Double] = []
        for _ in 0..<rounds {
            let resumedAt: Double = await withCheckedContinuation { (c: CheckedContinuation<Double, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(500)) {
                    c.resume(returning: Double(DispatchTime.now().uptimeNanoseconds))
                }
            }
            waits.append((Double(DispatchTime.now().uptimeNanoseconds) - resumedAt) / 1e6)
        }
        return waits
    }
    let waits = await probeTask.value.sorted()
    stop.flag.store(true, ordering: .relaxed)
    await background.value
    return waits
}

for (name, priority) in [("default", nil as TaskPriority?), ("high", TaskPriority.high), ("default", nil), ("high", TaskPriority.high)] {
    let w = await probe(priority: priority, rounds: 300)
    print(name, String(format: "resume wait p50 %.3f ms p90 %.3f p99 %.3f", w[w.count / 2], w[w.count * 9 / 10], w[w.count * 99 / 100]))
}
