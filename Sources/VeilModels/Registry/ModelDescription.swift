import Foundation
import VeilCore
import VeilStore

/// A model as `veil models show` and `GET /v1/models/{id}` present it: the registry's state and review,
/// and the stored card with `model_id`, `created` and `spend_id` (the spend that paid for it) filled
/// in, and `quality_gate`: whether the model
/// beats its baselines (`QualityGate`) and, when it was approved anyway, the override note and who
/// gave it.
public struct ModelDescription: Sendable, Encodable {
    public var record: ModelRecord
    public var card: [String: JSONValue]

    public init(record: ModelRecord, card: [String: JSONValue]) {
        self.record = record
        self.card = card
    }
}

extension ModelRegistry {
    /// The registry record and the card of model `id`. The artifact is checked against its name.
    public func describe(id: String) async throws -> ModelDescription {
        let record = try await find(id: id)
        var card = try ModelFile.cardJSON(try await artifact(id: id))
        card["model_id"] = .string(record.id)
        card["created"] = .string(ModelFile.isoTime(millis: record.createdMillis))
        if let spendID = record.spendId { card["spend_id"] = .int(spendID) }
        var gate = QualityGate.judge(card: card).json
        if let override = record.qualityOverride {
            gate["override_note"] = .string(override)
            gate["override_by"] = record.reviewer.map(JSONValue.string) ?? .null
        }
        card["quality_gate"] = .object(gate)
        return ModelDescription(record: record, card: card)
    }
}
