import Foundation
import VeilCore
import VeilService

/// TEST ONLY. An in-memory `EventIngesting` that keeps the contract's rules the gateway depends on,
/// so the HTTP tests exercise real outcomes until the ingest branch's pipeline replaces it at merge:
/// - each event is a JSON object with a string `event_id` (1–128 bytes) and a string `user_id`,
///   otherwise the whole batch is rejected (`BatchRejected`, 0-based indexes) and nothing is kept;
/// - a batch of more than `maxBatchEvents` throws `VeilError(.tooLarge)`;
/// - an `event_id` seen before counts as a duplicate, never stored twice;
/// - `failing = true` makes every batch throw `VeilError(.unavailable)`.
actor RecordingIngestor: EventIngesting {
    struct Call: Sendable, Equatable {
        let actor: String
        let format: EventBatchFormat
        let events: Int
    }

    let maxBatchEvents: Int
    private(set) var calls: [Call] = []
    private(set) var storedEventIDs: Set<String> = []
    var failing = false

    init(maxBatchEvents: Int = Policy().ingest.maxBatchEvents) {
        self.maxBatchEvents = maxBatchEvents
    }

    func setFailing(_ value: Bool) { failing = value }

    func ingestBatch(_ body: Data, format: EventBatchFormat, actor: String) async throws -> IngestSummary {
        let events = try Self.parse(body, format: format)
        calls.append(Call(actor: actor, format: format, events: events.count))
        guard events.count <= maxBatchEvents else {
            throw VeilError(.tooLarge, field: "batch", "holds more than \(maxBatchEvents) events (policy ingest.max_batch_events)")
        }
        var problems: [EventProblem] = []
        var ids: [String] = []
        for (index, event) in events.enumerated() {
            guard let object = event as? [String: Any] else {
                problems.append(EventProblem(index: index, field: "", message: "must be a JSON object"))
                continue
            }
            if let id = object["event_id"] as? String, (1...128).contains(id.utf8.count) {
                ids.append(id)
            } else {
                problems.append(EventProblem(index: index, field: "event_id", message: "is required: a string of 1–128 bytes"))
            }
            if !(object["user_id"] is String) {
                problems.append(EventProblem(index: index, field: "user_id", message: "is required: a string of 1–256 bytes"))
            }
        }
        guard problems.isEmpty else { throw BatchRejected(problems: problems) }
        if failing { throw VeilError(.unavailable, field: "/data/veil.sqlite", "disk I/O error") }
        var summary = IngestSummary(accepted: 0, duplicates: 0)
        for id in ids {
            if storedEventIDs.insert(id).inserted { summary.accepted += 1 } else { summary.duplicates += 1 }
        }
        return summary
    }

    private static func parse(_ body: Data, format: EventBatchFormat) throws -> [Any] {
        do {
            switch format {
            case .jsonArray:
                guard let array = try JSONSerialization.jsonObject(with: body) as? [Any] else {
                    throw BatchRejected(problems: [EventProblem(index: 0, field: "", message: "the body must be a JSON array of events")])
                }
                return array
            case .ndjson:
                return try body.split(separator: UInt8(ascii: "\n")).filter { !$0.isEmpty }.map {
                    try JSONSerialization.jsonObject(with: Data($0))
                }
            }
        } catch let error as BatchRejected {
            throw error
        } catch {
            throw BatchRejected(problems: [EventProblem(index: 0, field: "", message: "is not valid JSON")])
        }
    }
}

/// TEST ONLY. A `SubjectErasing` that records the IDs it was asked to erase and reports fixed counts.
actor RecordingEraser: SubjectErasing {
    private(set) var erased: [(userID: String, actor: String)] = []

    func erase(userID: String, actor: String) async throws -> ErasureReport {
        erased.append((userID, actor))
        return ErasureReport(pseudonym: Pseudonym(hex: String(repeating: "ab", count: 16))!, epoch: 1, eventsDeleted: 3, vaultRowsDeleted: 1)
    }
}
