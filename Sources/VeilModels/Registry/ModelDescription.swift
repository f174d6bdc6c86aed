import Foundation
import VeilCore
import VeilStore

/// A model as `veil models show` and `GET /v1/models/{id}` present it: the registry's state and review,
/// and the stored card with `model_id` and `created` filled in.
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
        return ModelDescription(record: record, card: card)
    }
}
