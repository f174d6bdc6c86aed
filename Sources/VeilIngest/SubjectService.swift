import Foundation
import VeilCore
import VeilCrypto
import VeilStore

/// What an erasure deleted. Holds the pseudonym, never the raw ID. JSON:
/// `{"pseudonym", "epoch", "events_deleted", "vault_rows_deleted"}`.
public struct ErasureReport: Sendable, Codable, Equatable {
    public var pseudonym: Pseudonym
    public var epoch: UInt32
    public var eventsDeleted: Int
    /// Vault rows deleted (0 or 1).
    public var vaultRowsDeleted: Int

    public init(pseudonym: Pseudonym, epoch: UInt32, eventsDeleted: Int, vaultRowsDeleted: Int) {
        self.pseudonym = pseudonym
        self.epoch = epoch
        self.eventsDeleted = eventsDeleted
        self.vaultRowsDeleted = vaultRowsDeleted
    }

    enum CodingKeys: String, CodingKey {
        case pseudonym, epoch
        case eventsDeleted = "events_deleted"
        case vaultRowsDeleted = "vault_rows_deleted"
    }
}

/// Data-subject requests: erasure (serving host, `veil erase` and `DELETE /v1/subjects/{user_id}`).
public struct SubjectService: SubjectErasing {
    public let store: any EventStore
    private let users: Pseudonymizer

    /// `store` deletes and records `subject.erase` in one transaction.
    public init(store: any EventStore, keys: KeyRing) {
        self.store = store
        users = keys.userPseudonymizer
    }

    /// Deletes every event and the vault row of `userID` (pseudonymised with the current key epoch)
    /// and records `subject.erase` with the pseudonym and the counts, in one transaction. Erasing a
    /// user Veil never saw succeeds with zero counts.
    public func erase(userID: String, actor: String) async throws -> ErasureReport {
        try UserID.validate(userID)
        let pseudonym = users.pseudonym(for: userID)
        let epoch = users.epoch
        let counts = try await store.erase(pseudonym) { counts in
            AuditDraft(
                actor: actor, action: .subjectErase,
                details: [
                    "pseudonym": .string(pseudonym.hex), "epoch": .int(Int64(epoch)),
                    "events": .int(Int64(counts.events)), "identities": .int(Int64(counts.identities)),
                ])
        }
        return ErasureReport(pseudonym: pseudonym, epoch: epoch, eventsDeleted: counts.events, vaultRowsDeleted: counts.identities)
    }
}

/// The data-protection officer's offline re-identification: opens a vault row with the escrow secret
/// key. Needs the data directory and the escrow secret; never the master key.
public struct Reidentifier: Sendable {
    public let vault: any IdentityVault
    private let opener: EscrowOpener
    private let audit: any AuditRecording

    public init(vault: any IdentityVault, escrowSecret: EscrowSecretKey, audit: any AuditRecording) {
        self.vault = vault
        opener = EscrowOpener(secretKey: escrowSecret)
        self.audit = audit
    }

    /// The raw ID behind `pseudonym`. Records `subject.reidentify` (pseudonym only) before returning it.
    /// Throws `.notFound` when the vault has no row (never seen, or erased).
    public func reidentify(_ pseudonym: Pseudonym, actor: String) async throws -> String {
        guard let record = try await vault.identity(for: pseudonym) else {
            throw VeilError(
                .notFound, field: "pseudonym \(pseudonym.hex)", "has no vault row (never ingested, or erased)")
        }
        guard let sealed = try await vault.dataKey(id: record.dataKeyID) else {
            throw VeilError(
                .integrity, field: "data key \(record.dataKeyID)", "is missing from data_keys; the vault row cannot be opened")
        }
        let dataKey = try opener.openDataKey(SealedDataKey(sealed: sealed.sealed))
        let rawID = try opener.open(
            EscrowedIdentity(dataKeyID: record.dataKeyID, nonce: record.nonce, ciphertext: record.ciphertext),
            pseudonym: pseudonym, dataKey: dataKey)
        try await audit.record(actor: actor, action: .subjectReidentify, details: ["pseudonym": .string(pseudonym.hex)])
        return rawID
    }
}
