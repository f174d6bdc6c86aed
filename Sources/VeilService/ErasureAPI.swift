import VeilCore

/// What an erasure removed. The raw user ID is deliberately absent: only its pseudonym is reported.
public struct ErasureReport: Sendable, Codable, Equatable {
    /// The pseudonym (32 lowercase hex characters) whose data was erased.
    public var pseudonym: String
    public var eventsDeleted: Int
    public var vaultRowsDeleted: Int

    public init(pseudonym: String, eventsDeleted: Int, vaultRowsDeleted: Int) {
        self.pseudonym = pseudonym
        self.eventsDeleted = eventsDeleted
        self.vaultRowsDeleted = vaultRowsDeleted
    }

    enum CodingKeys: String, CodingKey {
        case pseudonym
        case eventsDeleted = "events_deleted"
        case vaultRowsDeleted = "vault_rows_deleted"
    }
}

/// The erasure use case as the faces see it (`veil erase`, `DELETE /v1/subjects/{user_id}`).
public protocol SubjectErasing: Sendable {
    /// Deletes every event and the identity-vault row of the user with this raw ID, durably, records
    /// the erasure in the audit log as `actor`, and reports the counts (zero counts when the user is
    /// unknown). `userID` is used in memory only: it never reaches a log, an error or the audit log.
    /// Throws `VeilError(.unavailable)` when the store cannot commit.
    func erase(userID: String, actor: String) async throws -> ErasureReport
}
