import Foundation
import VeilCore

/// An escrowed raw ID as the vault keeps it: the pseudonym it belongs to and its ciphertext under a
/// data key. Holds no plaintext.
public struct VaultRecord: Sendable, Hashable, Codable {
    public var pseudonym: Pseudonym
    /// The key epoch the pseudonym was derived at.
    public var epoch: UInt32
    /// The `id` of the `DataKeyRecord` the ciphertext is under.
    public var dataKeyID: String
    public var nonce: [UInt8]
    /// XChaCha20-Poly1305 ciphertext + tag, with the pseudonym bytes as associated data.
    public var ciphertext: [UInt8]

    public init(pseudonym: Pseudonym, epoch: UInt32, dataKeyID: String, nonce: [UInt8], ciphertext: [UInt8]) {
        self.pseudonym = pseudonym
        self.epoch = epoch
        self.dataKeyID = dataKeyID
        self.nonce = nonce
        self.ciphertext = ciphertext
    }
}

/// A data key sealed to the escrow public key; vault rows name it by `id`.
public struct DataKeyRecord: Sendable, Hashable, Codable {
    public var id: String
    /// `crypto_box_seal(data key, escrow public key)`.
    public var sealed: [UInt8]
    /// When the key was first stored.
    public var created: Date

    public init(id: String, sealed: [UInt8], created: Date) {
        self.id = id
        self.sealed = sealed
        self.created = created
    }
}

/// One batch to commit: validated, minimised, pseudonymised events and how to escrow new identities.
public struct EventBatchWrite: Sendable {
    /// The events in batch order. A repeated `eventID` (within the batch or against the store) is a
    /// duplicate: stored once, counted as a duplicate every other time.
    public var events: [StoredEvent]
    /// The data key `escrow` encrypts under. Stored (once) in the same transaction when the batch
    /// creates a vault row.
    public var dataKey: DataKeyRecord
    /// Called inside the write transaction, once for each distinct pseudonym of the batch that has no
    /// vault row yet; returns the escrowed identity to store. Raw IDs stay in the caller's memory.
    public var escrow: @Sendable (Pseudonym) throws -> VaultRecord

    public init(
        events: [StoredEvent], dataKey: DataKeyRecord, escrow: @escaping @Sendable (Pseudonym) throws -> VaultRecord
    ) {
        self.events = events
        self.dataKey = dataKey
        self.escrow = escrow
    }
}

/// What a committed batch did.
public struct BatchCommit: Sendable, Hashable, Codable {
    /// Events newly stored.
    public var inserted: Int
    /// Events whose `event_id` was already stored (or appeared earlier in the batch).
    public var duplicates: Int
    /// Vault rows created for pseudonyms seen for the first time.
    public var newIdentities: Int

    public init(inserted: Int = 0, duplicates: Int = 0, newIdentities: Int = 0) {
        self.inserted = inserted
        self.duplicates = duplicates
        self.newIdentities = newIdentities
    }

    /// Adds what another batch did.
    public static func += (total: inout BatchCommit, batch: BatchCommit) {
        total.inserted += batch.inserted
        total.duplicates += batch.duplicates
        total.newIdentities += batch.newIdentities
    }
}

/// What erasing one pseudonym deleted.
public struct ErasureCounts: Sendable, Hashable, Codable {
    public var events: Int
    /// Vault rows deleted (0 or 1).
    public var identities: Int

    public init(events: Int, identities: Int) {
        self.events = events
        self.identities = identities
    }
}

/// A position in the (pseudonym, timestamp) order of all events, for reading them in chunks.
/// Opaque to callers: pass back the `next` cursor of the previous chunk.
public struct EventCursor: Sendable, Hashable {
    /// Reading resumes after this (pseudonym, timestamp, sequence).
    public let pseudonym: Pseudonym
    public let timestampMillis: Int64
    /// A backend-specific tie-breaker (the SQLite rowid).
    public let sequence: Int64
    /// Backend-specific scan state. SQLite reads a range of pseudonyms at a time: where the current
    /// range ends (the first 8 bytes of the first pseudonym past it; nil at the end of the space), and
    /// how wide each range is.
    let rangeEnd: UInt64?
    let span: UInt64

    public init(pseudonym: Pseudonym, timestampMillis: Int64, sequence: Int64, rangeEnd: UInt64? = nil, span: UInt64 = 0) {
        self.pseudonym = pseudonym
        self.timestampMillis = timestampMillis
        self.sequence = sequence
        self.rangeEnd = rangeEnd
        self.span = span
    }
}

/// One chunk of events in (pseudonym, timestamp) order.
public struct EventChunk: Sendable {
    public var events: [StoredEvent]
    /// Where the next chunk starts; nil when this was the last one.
    public var next: EventCursor?

    public init(events: [StoredEvent], next: EventCursor?) {
        self.events = events
        self.next = next
    }
}

/// Where pseudonymised events live. SQLite (`SQLiteEventStore`) is the default backend; callers use
/// only this protocol, so another backend (PostgreSQL) can replace it.
///
/// Contract: `commit` stores a batch in one transaction — its events and vault rows are all stored or
/// none are — and returns only after that transaction is durable. A backend may put concurrent batches
/// in the same transaction (group commit); if that transaction fails, each of its batches fails.
public protocol EventStore: Sendable {
    /// Stores one batch in one transaction: inserts the events (a known `event_id` is a duplicate, not
    /// an error), and creates vault rows for pseudonyms that have none.
    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit

    /// Stores every batch `next` returns, in order, in one transaction, and returns their summed
    /// result once that transaction is durable. `next` returns nil after the last batch; if it throws,
    /// nothing is stored and its error is rethrown. `next` is called on the store's writer thread and
    /// may block until a batch is ready (`BatchChannel.receive`); `stored` is called after each batch
    /// is written (before the commit). The store's writer is held until `next` returns nil, so other
    /// commits wait: this is for imports that must be all or nothing.
    func commitAll(
        next: @escaping @Sendable () throws -> EventBatchWrite?, stored: @escaping @Sendable (BatchCommit) -> Void
    ) async throws -> BatchCommit

    /// The number of stored events.
    func eventCount() async throws -> Int

    /// All events of one pseudonym, oldest first.
    func events(for pseudonym: Pseudonym) async throws -> [StoredEvent]

    /// Up to `limit` events after `cursor` (from the start when nil), ordered by (pseudonym,
    /// timestamp); `next` is nil after the last chunk. A chunk may hold fewer than `limit` events
    /// before the end (SQLite returns a range of pseudonyms at a time). Each chunk is read in its own
    /// transaction: a scan concurrent with ingestion sees every event committed before it started,
    /// and may or may not see later ones.
    func events(after cursor: EventCursor?, limit: Int) async throws -> EventChunk

    /// Deletes every event and the vault row of `pseudonym` in one transaction.
    func erase(_ pseudonym: Pseudonym) async throws -> ErasureCounts

    /// The latest stored event time (Unix ms), nil when the store is empty. Metadata for choosing a
    /// training cutoff: answered from an index (and the latest day's timestamps), reads no event content.
    func latestEventMillis() async throws -> Int64?

    /// Whether any stored event has `range.lowerBound <= ts_ms < range.upperBound`. Metadata for checking
    /// a label horizon: answered from an index, reads no event row.
    func containsEvents(in range: Range<Int64>) async throws -> Bool
}

extension EventStore {
    /// Reads every event in (pseudonym, timestamp) order, `chunkSize` at a time, handing each chunk
    /// to `body`. All events of one pseudonym are contiguous, though they may span two chunks.
    public func forEachEventChunk(
        chunkSize: Int = 10_000, _ body: ([StoredEvent]) async throws -> Void
    ) async throws {
        var cursor: EventCursor? = nil
        repeat {
            let chunk = try await events(after: cursor, limit: chunkSize)
            if !chunk.events.isEmpty { try await body(chunk.events) }
            cursor = chunk.next
        } while cursor != nil
    }
}

/// The escrowed identities (pid → sealed raw ID) and the sealed data keys, for the data-protection
/// officer's offline re-identification. Rows are written by `EventStore.commit`.
public protocol IdentityVault: Sendable {
    /// The vault row of `pseudonym`, if there is one.
    func identity(for pseudonym: Pseudonym) async throws -> VaultRecord?
    /// The sealed data key named `id`, if stored.
    func dataKey(id: String) async throws -> DataKeyRecord?
    /// The number of vault rows.
    func identityCount() async throws -> Int
}
