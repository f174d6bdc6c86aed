import Foundation
import VeilCore
import VeilLearning

/// The JSON body of `POST /v1/predict`: a task and one subject or a list of them.
///
/// ```json
/// {"task": "purchase", "user_id": "alice@example.com"}
/// {"task": "purchase", "pseudonym": "3f0c…"}
/// {"task": "churn", "subjects": [{"user_id": "alice@example.com"}, {"pseudonym": "3f0c…"}]}
/// {"task": "purchase", "pseudonym": "3f0c…", "at": "2026-05-01"}
/// ```
///
/// Decoding checks every rule and throws a `VeilError` naming the field (`subjects[3].pseudonym`) —
/// never echoing a value, which could be a raw ID. More than `PredictionService.maxBatch` subjects is
/// `.tooLarge`.
public struct PredictionRequest: Sendable, Decodable {
    public var task: PredictionTask
    public var subjects: [PredictionSubject]
    /// Whether the body named one subject (`user_id` or `pseudonym`) rather than a `subjects` list.
    public var isSingle: Bool
    /// `at`: the time to score as of (`ServingTime.parse`); nil is now.
    public var at: Date?

    /// One entry of `subjects`.
    private struct Entry: Decodable {
        var userID: String?
        var pseudonym: String?

        enum CodingKeys: String, CodingKey {
            case pseudonym
            case userID = "user_id"
        }
    }

    enum CodingKeys: String, CodingKey {
        case task, pseudonym, subjects, at
        case userID = "user_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let names = PredictionTask.allCases.map(\.rawValue).joined(separator: ", ")
        guard let name = try container.decodeIfPresent(String.self, forKey: .task) else {
            throw VeilError(.invalidInput, field: "task", "is required (\(names))")
        }
        guard let task = PredictionTask(rawValue: name) else {
            throw VeilError(.invalidInput, field: "task", "must be one of \(names)")
        }
        self.task = task
        at = try container.decodeIfPresent(String.self, forKey: .at).map { try ServingTime.parse($0) }
        let given = [CodingKeys.userID, .pseudonym, .subjects].filter(container.contains)
        guard given.count == 1 else {
            throw VeilError(.invalidInput, field: "subjects", "give exactly one of user_id, pseudonym or subjects")
        }
        isSingle = given[0] != .subjects
        if isSingle {
            let entry = try Entry(
                userID: container.decodeIfPresent(String.self, forKey: .userID),
                pseudonym: container.decodeIfPresent(String.self, forKey: .pseudonym))
            subjects = [try Self.subject(entry, field: nil)]
            return
        }
        var list = try container.nestedUnkeyedContainer(forKey: .subjects)
        if let count = list.count, count > PredictionService.maxBatch {
            throw VeilError(.tooLarge, field: "subjects", "at most \(PredictionService.maxBatch) subjects per request, got \(count)")
        }
        var subjects: [PredictionSubject] = []
        while !list.isAtEnd {
            let index = list.currentIndex
            subjects.append(try Self.subject(try list.decode(Entry.self), field: "subjects[\(index)]"))
        }
        guard !subjects.isEmpty else {
            throw VeilError(.invalidInput, field: "subjects", "give at least one {\"user_id\"} or {\"pseudonym\"}")
        }
        self.subjects = subjects
    }

    private static func subject(_ entry: Entry, field prefix: String?) throws -> PredictionSubject {
        func field(_ name: String) -> String { prefix.map { "\($0).\(name)" } ?? name }
        switch (entry.userID, entry.pseudonym) {
        case (let id?, nil):
            try UserID.validate(id, field: field("user_id"))
            return .userID(id)
        case (nil, let hex?):
            guard hex.utf8.count == 32, hex == hex.lowercased(), let pseudonym = Pseudonym(hex: hex) else {
                throw VeilError(.invalidInput, field: field("pseudonym"), "must be 32 lowercase hex characters")
            }
            return .pseudonym(pseudonym)
        default:
            throw VeilError(.invalidInput, field: prefix ?? "subjects", "give exactly one of user_id or pseudonym")
        }
    }
}
