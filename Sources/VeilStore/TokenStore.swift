import Foundation
import VeilCore

/// One API token as stored: its name, role and keyed hash. The token itself is never stored.
public struct TokenRecord: Sendable, Equatable {
    /// Operator-chosen, unique for the life of the database (a revoked token keeps its name).
    public var name: String
    public var role: Role
    /// `BLAKE2b-256(key = token-hash key, message = the token's 32 secret bytes)`.
    public var hash: [UInt8]
    public var created: Date
    /// When the token was revoked; a revoked token never authenticates again.
    public var revoked: Date?

    public init(name: String, role: Role, hash: [UInt8], created: Date, revoked: Date? = nil) {
        self.name = name
        self.role = role
        self.hash = hash
        self.created = created
        self.revoked = revoked
    }
}

/// Where API tokens are kept.
///
/// Contract: `insert` fails with `VeilError(.alreadyExists)` for a name already used, revoked or not,
/// and with `.conflict` for a hash already stored. An issue or a revocation and its audit record
/// commit in one transaction.
public protocol TokenStore: Sendable {
    /// Stores `record` and seals `audit` in one transaction.
    func insert(_ record: TokenRecord, audit: AuditDraft) async throws
    /// The token with this hash, revoked or not; nil when there is none.
    func token(hash: [UInt8]) async throws -> TokenRecord?
    /// Every token, revoked ones included, oldest first.
    func all() async throws -> [TokenRecord]
    /// Marks the named token revoked at `date` and seals `audit`, in one transaction. Returns false,
    /// writing nothing, when no unrevoked token has that name.
    func revoke(name: String, at date: Date, audit: AuditDraft) async throws -> Bool
}
