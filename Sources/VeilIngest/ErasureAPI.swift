import VeilCore

/// The erasure use case as the faces see it (`veil erase`, `DELETE /v1/subjects/{user_id}`).
public protocol SubjectErasing: Sendable {
    /// Deletes every event and the identity-vault row of the user with this raw ID, durably, records
    /// the erasure in the audit log as `actor`, and reports the counts (zero counts when the user is
    /// unknown). `userID` is used in memory only: it never reaches a log, an error or the audit log.
    /// Throws `VeilError(.unavailable)` when the store cannot commit.
    func erase(userID: String, actor: String) async throws -> ErasureReport
}
