import Foundation
import Synchronization
import VeilCore

/// How many predictions each model served on each UTC day, since the counts were last written to the
/// audit log — so the log accounts for serving per model and day, not per request.
///
/// Contract: `count` is cheap (a lock and an addition) and never touches the store. `flush` takes the
/// counts out and writes one `model.predictions` record per (model, day) with predictions (`model_id`,
/// `task`, `day`, `count`); a day's total is the sum of its records. When writing fails, the counts not
/// yet written go back into the tally for the next flush. A process that dies loses what it counted
/// since its last flush (`veil serve` flushes every minute and at shutdown; `veil predict` before it
/// exits): the log may undercount serving, never invent it.
public final class PredictionTally: Sendable {
    struct Key: Hashable, Comparable {
        let modelID: String
        let task: String
        let day: CivilDate

        static func < (a: Key, b: Key) -> Bool { (a.day, a.modelID) < (b.day, b.modelID) }
    }

    private let counts = Mutex<[Key: Int64]>([:])
    private let total = Mutex<Int64>(0)

    public init() {}

    /// Counts `predictions` served by `modelID` (for `task`) at `time`.
    func count(_ predictions: Int, modelID: String, task: String, at time: Date) {
        let day = CivilDate(daysSinceEpoch: Int((time.timeIntervalSince1970 / 86_400).rounded(.down)))
        counts.withLock { $0[Key(modelID: modelID, task: task, day: day), default: 0] += Int64(predictions) }
        total.withLock { $0 += Int64(predictions) }
    }

    /// Every prediction counted since the process started (flushed or not).
    public var served: Int64 { total.withLock { $0 } }

    /// Writes the counts not yet written through `audit` as `actor` (one record each, oldest day
    /// first), and returns how many records it wrote. See the type's contract.
    @discardableResult
    public func flush(to audit: any AuditRecording, actor: String) async throws -> Int {
        let pending = counts.withLock { counts in
            defer { counts.removeAll() }
            return counts
        }
        var written = 0
        for (index, key) in pending.keys.sorted().enumerated() {
            do {
                try await audit.record(
                    actor: actor, action: .modelPredictions,
                    details: [
                        "model_id": .string(key.modelID), "task": .string(key.task), "day": .string(key.day.description),
                        "count": .int(pending[key]!),
                    ])
                written += 1
            } catch {
                let unwritten = pending.keys.sorted()[index...]
                counts.withLock { counts in
                    for key in unwritten { counts[key, default: 0] += pending[key]! }
                }
                throw error
            }
        }
        return written
    }
}
