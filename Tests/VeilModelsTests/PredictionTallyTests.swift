import Foundation
import Testing
import VeilCore
import VeilStore
import VeilTestSupport
@testable import VeilModels

/// Prediction counts reach the audit log per model and day, when flushed; a failed write keeps them.
@Suite struct PredictionTallyTests {
    static let day1 = Date(timeIntervalSince1970: 1_795_435_200)  // 2026-11-23T12:00:00Z
    static let day2 = day1.addingTimeInterval(86_400)

    /// An audit sink whose first `failures` writes fail (as a full disk would), then writes to `stores`.
    final class FailingFirst: AuditRecording, @unchecked Sendable {
        let stores: StoreSet
        var failures: Int
        init(_ stores: StoreSet, failures: Int) {
            self.stores = stores
            self.failures = failures
        }
        func record(_ draft: AuditDraft) async throws -> UInt64 {
            if failures > 0 {
                failures -= 1
                throw VeilError(.unavailable, "disk full")
            }
            return try await stores.audit.record(draft)
        }
    }

    static func counts(_ stores: StoreSet) async throws -> [String] {
        try await stores.chainBodies().filter { $0.action == "model.predictions" }.map { body in
            guard case .string(let model) = body.details["model_id"], case .string(let day) = body.details["day"],
                case .int(let count) = body.details["count"]
            else { return "?" }
            return "\(model) \(day) \(count)"
        }
    }

    @Test func countsAreWrittenOncePerModelAndDayAndOnlyWhenFlushed() async throws {
        let stores = try ScratchStores.open()
        let tally = PredictionTally()
        tally.count(1, modelID: "m1", task: "purchase", at: Self.day1)
        tally.count(999, modelID: "m1", task: "purchase", at: Self.day1)
        tally.count(5, modelID: "m2", task: "churn", at: Self.day1)
        tally.count(2, modelID: "m1", task: "purchase", at: Self.day2)
        #expect(try await Self.counts(stores).isEmpty, "nothing is written per request")
        #expect(try await tally.flush(to: stores.audit, actor: "veil-serve") == 3)
        #expect(try await Self.counts(stores) == ["m1 2026-11-23 1000", "m2 2026-11-23 5", "m1 2026-11-24 2"])
        #expect(try await tally.flush(to: stores.audit, actor: "veil-serve") == 0)
        tally.count(3, modelID: "m1", task: "purchase", at: Self.day2)
        try await tally.flush(to: stores.audit, actor: "veil-serve")
        #expect(try await Self.counts(stores).last == "m1 2026-11-24 3")
        #expect(tally.served == 1010)
    }

    @Test func aFailedWriteKeepsTheCountsForTheNextFlush() async throws {
        let stores = try ScratchStores.open()
        let tally = PredictionTally()
        tally.count(4, modelID: "m1", task: "purchase", at: Self.day1)
        tally.count(6, modelID: "m2", task: "purchase", at: Self.day1)
        let failing = FailingFirst(stores, failures: 1)
        await #expect(throws: VeilError.self) { try await tally.flush(to: failing, actor: "veil-serve") }
        tally.count(1, modelID: "m1", task: "purchase", at: Self.day1)
        #expect(try await tally.flush(to: failing, actor: "veil-serve") == 2)
        #expect(try await Self.counts(stores) == ["m1 2026-11-23 5", "m2 2026-11-23 6"])
    }
}
