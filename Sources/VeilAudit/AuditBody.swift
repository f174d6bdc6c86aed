import Foundation
import VeilCore

/// The body of an audit record: a JSON object with sorted keys holding `seq`, `time`, `actor`,
/// `action` and `details`. The chain hashes the body's exact UTF-8 text, so it is stored as text.
public struct AuditBody: Sendable, Hashable {
    public let seq: UInt64
    /// RFC 3339 UTC.
    public let time: String
    /// Token name, or `cli`.
    public let actor: String
    public let action: String
    public let details: [String: JSONValue]

    public init(seq: UInt64, time: String, actor: String, action: String, details: [String: JSONValue]) {
        self.seq = seq
        self.time = time
        self.actor = actor
        self.action = action
        self.details = details
    }

    /// The body as compact JSON text with sorted keys (at every level), slashes unescaped (`CanonicalJSON`).
    /// Throws `invalidInput` when `details` hold a number JSON cannot carry (NaN, ±∞) or nest too deep.
    public func jsonText() throws -> String {
        let object: JSONValue = [
            "seq": .int(Int64(seq)), "time": .string(time), "actor": .string(actor), "action": .string(action),
            "details": .object(details),
        ]
        do {
            return try CanonicalJSON.text(of: object)
        } catch {
            throw VeilError(
                .invalidInput, field: "details",
                "an audit record's details must be plain JSON; NaN, infinities and containers nested \(CanonicalJSON.maximumDepth) deep cannot be recorded")
        }
    }

    /// The bounds a body is parsed under (`JSONLimits.defaultMaxDepth` levels, at most 1 MiB).
    static let limits = JSONLimits(maxBytes: 1 << 20)

    /// Parses body text, or says which rule it breaks.
    public static func parse(_ text: String) -> Result<AuditBody, AuditShapeError> {
        let node: JSONNode
        do {
            node = try JSONNode.parse(text, limits: limits)
        } catch {
            return .failure(AuditShapeError("the body is not a JSON object: \(error)"))
        }
        guard case .object(let object)? = JSONValue(node) else {
            return .failure(AuditShapeError("the body is not a JSON object"))
        }
        guard case .int(let seq)? = object["seq"], seq >= 1 else {
            return .failure(AuditShapeError("the body's seq is missing or not a whole number >= 1"))
        }
        guard case .string(let time)? = object["time"], AuditTime.isValid(time) else {
            return .failure(AuditShapeError("the body's time is missing or not an RFC 3339 timestamp"))
        }
        guard case .string(let actor)? = object["actor"], !actor.isEmpty else {
            return .failure(AuditShapeError("the body's actor is missing or empty"))
        }
        guard case .string(let action)? = object["action"], AuditAction.isWellFormed(action) else {
            return .failure(AuditShapeError("the body's action is missing or not a dotted lowercase name"))
        }
        guard case .object(let details)? = object["details"] else {
            return .failure(AuditShapeError("the body's details are missing or not a JSON object"))
        }
        return .success(AuditBody(seq: UInt64(seq), time: time, actor: actor, action: action, details: details))
    }
}

/// Why a line or body does not have the audit format.
public struct AuditShapeError: Error, Sendable, Hashable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
