import Foundation
import VeilCore

/// When a served answer (a prediction; a recommendation) is computed as of, and whether the stored
/// events reach it. Every serving path resolves its time here, so the CLI's `--at` and the HTTP
/// bodies' `at` follow one rule.
public enum ServingTime {
    /// How far past the server's clock an `at` may lie (a caller's clock may run a little ahead).
    public static let futureTolerance: Int64 = 5 * 60 * 1000

    /// The rule `at` follows, for messages and docs.
    public static let rule = "must be a date YYYY-MM-DD (UTC) or an RFC 3339 date-time such as 2026-11-01T00:00:00Z, not in the future"

    /// The time `text` names (`DateText`: `YYYY-MM-DD` is 00:00 UTC of that day, or an RFC 3339
    /// date-time); throws `.invalidInput` naming `field` for any other text (never echoing it).
    public static func parse(_ text: String, field: String = "at") throws -> Date {
        guard let millis = DateText.millis(text) else { throw VeilError(.invalidInput, field: field, rule) }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    /// `time` as Unix ms, or now when nil. Throws `.invalidInput` naming `field` for a time before
    /// 1970 or more than `futureTolerance` after `now` (the events after it do not exist yet).
    public static func resolve(_ time: Date?, now: Date, field: String = "at") throws -> Int64 {
        let nowMillis = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        guard let time else { return nowMillis }
        let millis = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        guard millis >= 0, millis <= nowMillis + futureTolerance else { throw VeilError(.invalidInput, field: field, rule) }
        return millis
    }
}

/// Whether the stored data reaches the time an answer is computed as of. JSON: `{"at",
/// "latest_event", "window_days", "stale"}` (times RFC 3339, UTC; `latest_event` absent when the store
/// holds no event, `window_days` when the model gives none).
///
/// `stale` is true when the latest stored event (of any user) is older than `window_days` before
/// `at` — the model's observation window, or for a model that reads the whole history, its label
/// horizon — or the store holds no event: the features would describe a period the store has no
/// data for (an import that stopped, a feed that broke), and a score would be that of a user who did
/// nothing. Answers are flagged, never silently scored as of today.
public struct DataFreshness: Sendable, Codable, Hashable {
    public var at: String
    public var latestEvent: String?
    public var windowDays: Int?
    public var stale: Bool

    enum CodingKeys: String, CodingKey {
        case at, stale
        case latestEvent = "latest_event"
        case windowDays = "window_days"
    }

    /// The freshness of data whose latest event is `latestEventMillis`, for answers as of `atMillis`
    /// that need data within `windowDays` before it (nil: any data; stale only when there is none).
    public init(atMillis: Int64, windowDays: Int?, latestEventMillis: Int64?) {
        at = RFC3339.format(millis: atMillis)
        latestEvent = latestEventMillis.map(RFC3339.format(millis:))
        self.windowDays = windowDays
        guard let latestEventMillis else {
            stale = true
            return
        }
        let windowStart = windowDays.map { atMillis - Int64($0) * 86_400_000 } ?? Int64.min
        stale = latestEventMillis < windowStart
    }

    /// A line for the terminal when `stale`, else nil.
    public var warning: String? {
        guard stale else { return nil }
        let window = windowDays.map { "the model's \($0)-day window before \(at)" } ?? "\(at)"
        return "stale data: the latest stored event (\(latestEvent ?? "none")) is older than \(window); scores describe users with no recent activity"
    }
}

/// One subject's answer in a batch: the answer, or why this subject has none — the other subjects are
/// still answered. JSON: the answer's own object, or `{"index", "pseudonym", "error", "message"}`.
public enum SubjectOutcome<Answer: Sendable & Hashable & Encodable>: Sendable, Hashable, Encodable {
    case answered(Answer)
    case failed(SubjectFailure)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .answered(let answer): try answer.encode(to: encoder)
        case .failed(let failure): try failure.encode(to: encoder)
        }
    }

    /// Whether this subject was answered.
    public var isAnswered: Bool {
        if case .answered = self { return true }
        return false
    }

    /// The answer, or the failure as the `VeilError` a single-subject request throws.
    public func get() throws -> Answer {
        switch self {
        case .answered(let answer): return answer
        case .failed(let failure): throw failure.error
        }
    }
}

/// Why one subject of a batch has no answer. Names the subject by its position and pseudonym, never
/// by a raw ID. JSON: `{"index", "pseudonym", "error", "message"}` (`error` as an HTTP error body's).
public struct SubjectFailure: Sendable, Hashable, Encodable {
    /// The subject's position in the request (0-based).
    public let index: Int
    public let pseudonym: String
    public let code: VeilError.Code
    private let field: String?
    public let message: String

    /// The failure of the subject at `index` with `pseudonym`.
    public init(index: Int, pseudonym: Pseudonym, _ error: VeilError) {
        self.index = index
        self.pseudonym = pseudonym.hex
        code = error.code
        field = error.field
        message = error.message
    }

    /// The error a request for this subject alone fails with.
    public var error: VeilError { VeilError(code, field: field, message) }

    enum CodingKeys: String, CodingKey {
        case index, pseudonym, error, message
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(pseudonym, forKey: .pseudonym)
        try container.encode(code.description, forKey: .error)
        try container.encode(message, forKey: .message)
    }
}
