import Foundation
import VeilAudit
import VeilCore
import VeilStore

/// One audit record as a person reads it (`veil audit log`): the body's fields, decoded — no
/// `jq '.body|fromjson'` needed. It is the stored record, unverified: `veil audit verify` checks the
/// chain.
public struct AuditEntry: Sendable, Hashable, Encodable {
    public let seq: UInt64
    public let time: String
    public let actor: String
    public let action: String
    public let details: [String: JSONValue]
}

/// Which records to list: one action (a name of `AuditAction.all`) and/or those at or after a time.
public struct AuditFilter: Sendable, Hashable {
    public var action: AuditAction?
    /// Unix ms; records whose `time` is earlier are left out.
    public var sinceMillis: Int64?

    public init(action: AuditAction? = nil, sinceMillis: Int64? = nil) {
        self.action = action
        self.sinceMillis = sinceMillis
    }

    /// The action named `name`; `.invalidInput` (field `field`) naming the known actions otherwise.
    public static func action(named name: String, field: String = "action") throws -> AuditAction {
        guard let action = AuditAction.all.first(where: { $0.rawValue == name }) else {
            throw VeilError(
                .invalidInput, field: field, "must be one of \(AuditAction.all.map(\.rawValue).joined(separator: ", "))")
        }
        return action
    }
}

/// The audit chain as a readable listing, read from the store (`AuditChainStore`), oldest first.
public struct AuditListing: Sendable {
    private let chain: any AuditChainStore

    public init(chain: any AuditChainStore) {
        self.chain = chain
    }

    /// The records that `filter` keeps, oldest first. A stored line that is not a well-formed record
    /// is an `.integrity` error naming its seq (the chain is damaged: run `veil audit verify`).
    public func entries(_ filter: AuditFilter = AuditFilter()) async throws -> [AuditEntry] {
        var entries: [AuditEntry] = []
        try await chain.forEachRecord { page in
            for record in page {
                guard case .success(let line) = AuditLine.parse(record.line), case .success(let body) = AuditBody.parse(line.body)
                else {
                    throw VeilError(
                        .integrity, field: "audit", "the record at seq \(record.seq) is not well formed; run `veil audit verify`")
                }
                if let action = filter.action, body.action != action.rawValue { continue }
                if let since = filter.sinceMillis, (RFC3339.parseMillis(body.time) ?? .min) < since { continue }
                entries.append(AuditEntry(seq: body.seq, time: body.time, actor: body.actor, action: body.action, details: body.details))
            }
        }
        return entries
    }
}
