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
    /// The batch's audit record (`ingest.batch`), made from what the batch did and sealed in the
    /// batch's transaction by `EventStore.commit`. `commitAll` records the whole import once instead
    /// and ignores this.
    public var audit: (@Sendable (BatchCommit) -> AuditDraft)?

    public init(
        events: [StoredEvent], dataKey: DataKeyRecord, escrow: @escaping @Sendable (Pseudonym) throws -> VaultRecord,
        audit: (@Sendable (BatchCommit) -> AuditDraft)? = nil
    ) {
        self.events = events
        self.dataKey = dataKey
        self.escrow = escrow
        self.audit = audit
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

/// A place in the (pseudonym, timestamp, sequence) order of all events, for reading them in chunks:
/// reading resumes strictly after it. Backend-neutral; pass back the `next` cursor of the previous
/// chunk (`EventStore.events(after:limit:)`).
public struct EventCursor: Sendable, Hashable {
    public var pseudonym: Pseudonym
    public var timestampMillis: Int64
    /// A number the backend assigns each stored event, unique among events, that orders events with
    /// the same pseudonym and timestamp (SQLite: the rowid). `Int64.min` is before every event.
    public var sequence: Int64
    /// How many events the store held when the scan started; a backend may size its reads from it.
    public var scanSize: Int

    public init(pseudonym: Pseudonym, timestampMillis: Int64, sequence: Int64, scanSize: Int) {
        self.pseudonym = pseudonym
        self.timestampMillis = timestampMillis
        self.sequence = sequence
        self.scanSize = scanSize
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

/// Which events an unordered scan (`EventStore.scan`) reads. The store applies it where the events
/// are read (a time range reads only the days asked for); nil means no restriction.
public struct EventFilter: Sendable, Hashable {
    /// Unix milliseconds, lower bound included, upper bound excluded.
    public var time: Range<Int64>?
    /// Only events of these types.
    public var types: Set<EventType>?
    /// The optional fields the reader uses (nil: every field). A scan fills these in and leaves the
    /// others out — an empty `eventID`, nil, no properties (`trimmed`) — so a backend reads and decodes
    /// only what a query needs. The pseudonym, epoch, type and time are always read. Not a restriction on which
    /// events are read: `contains` ignores it.
    public var fields: Set<StoredEventField>?

    public init(time: Range<Int64>? = nil, types: Set<EventType>? = nil, fields: Set<StoredEventField>? = nil) {
        self.time = time
        self.types = types
        self.fields = fields
    }

    /// Every event.
    public static let all = EventFilter()

    /// `event` with the fields `fields` leaves out emptied: the least a scan may return for it.
    public func trimmed(_ event: StoredEvent) -> StoredEvent {
        guard let fields else { return event }
        var trimmed = event
        for field in StoredEventField.allCases where !fields.contains(field) {
            switch field {
            case .eventID: trimmed.eventID = ""
            case .session: trimmed.session = nil
            case .itemID: trimmed.itemID = nil
            case .category: trimmed.category = nil
            case .price: trimmed.price = nil
            case .quantity: trimmed.quantity = nil
            case .rating: trimmed.rating = nil
            case .query: trimmed.query = nil
            case .properties: trimmed.properties = [:]
            }
        }
        return trimmed
    }

    /// Whether `event` passes the filter (what the store must apply; a backend may use it as is).
    public func contains(_ event: StoredEvent) -> Bool {
        if let time, !time.contains(event.timestampMillis) { return false }
        if let types, !types.contains(event.type) { return false }
        return true
    }
}

/// A field of a `StoredEvent` that a scan may leave out (`EventFilter.fields`).
public enum StoredEventField: String, Sendable, Hashable, CaseIterable {
    case eventID, session, itemID, category, price, quantity, rating, query, properties
}

/// Where pseudonymised events live. Callers use only this protocol; each backend (`VeilStoreSQLite`,
/// PostgreSQL) implements it and passes the store contract suite (`VeilStoreContract`).
///
/// Contract:
/// - `commit` stores a batch in one transaction — its events, its vault rows and its `ingest.batch`
///   audit record are all stored or none are — and returns only after that transaction is durable. A
///   backend may put concurrent batches in one transaction (group commit, one audit record per
///   batch); if that transaction fails, each of its batches fails and nothing of them is stored.
/// - A known `event_id` is a duplicate, never an error and never stored twice.
/// - Reads never block a cooperative thread on I/O: a backend that has only blocking I/O runs it on
///   threads of its own.
/// - Errors are `VeilError`s mapped in one place per backend: busy, locked, unreachable, a full disk or
///   an I/O error → `.unavailable`; a constraint → `.conflict`; anything else → `.internal` with a
///   `cause` that carries no data.
public protocol EventStore: Sendable {
    /// Stores one batch in one transaction: inserts the events (a known `event_id` is a duplicate, not
    /// an error), creates vault rows for pseudonyms that have none, and seals the batch's audit record.
    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit

    /// Stores every batch of `batches`, in order, in one transaction, seals `audit(total)` in it, and
    /// returns the total once that transaction is durable — all or nothing, for imports. If the
    /// producer finishes `batches` with an error, nothing is stored and that error is rethrown as it
    /// is. `stored` is called after each batch is written (before the commit). Up to
    /// `maxWriteConnections` of these may run at once (one import's transactions); with one writer,
    /// other writers wait until the import commits.
    func commitAll(
        _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
        audit: @escaping @Sendable (BatchCommit) -> AuditDraft
    ) async throws -> BatchCommit

    /// How many `commitAll` transactions may be open at once, each on a connection of its own: an
    /// import stored in batches (`EventImporter`) commits up to this many at a time, each whole with
    /// its own `ingest.batch` record. 1 for a backend with one writer (SQLite, the default).
    var maxWriteConnections: Int { get }

    /// How many events `commitAll` gathers from its stream before it writes them as one unit
    /// (PostgreSQL: `PostgresBatchWriter.unitEvents`, 50,000); 0 where each batch is written as it
    /// arrives (SQLite, the default). A producer that keeps a unit's worth prepared ahead
    /// (`EventImporter`) has the next unit ready when the store has written one.
    var eventsPerWriteUnit: Int { get }

    /// The number of stored events.
    func eventCount() async throws -> Int

    /// All events of one pseudonym, oldest first.
    func events(for pseudonym: Pseudonym) async throws -> [StoredEvent]

    /// Up to `limit` events after `cursor` (from the start when nil), ordered by (pseudonym,
    /// timestamp, sequence); `next` is nil after the last chunk. A chunk may hold fewer than `limit`
    /// events before the end, but is empty only at the end. Each chunk is read in its own
    /// transaction: a scan concurrent with ingestion returns every event committed before it started
    /// exactly once, and may or may not return later ones.
    func events(after cursor: EventCursor?, limit: Int) async throws -> EventChunk

    /// Reads every event `filter` admits exactly once, in chunks of at most `chunkSize`, in no
    /// particular order, from one consistent snapshot, calling `body` with each chunk (on a thread of
    /// the store's choosing, one chunk at a time). An error thrown by `body` stops the scan and is
    /// rethrown.
    func scan(
        _ filter: EventFilter, chunkSize: Int, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void
    ) async throws

    /// Counts the events `request` admits per (pseudonym, group) — the store-side aggregate of a
    /// grouped count query — from one consistent snapshot, as `scan` reads: `body` gets rows, in
    /// chunks of any size, one chunk at a time, in no particular order, such that for every
    /// (pseudonym, key) the counts of its rows add up to the number of admitted events of that
    /// pseudonym whose key (`EventGrouping.key(of:)`) it is; an event without a key counts nowhere. A
    /// (pseudonym, key) may come in several rows, so a backend may bound its memory. An error thrown
    /// by `body` stops the count and is rethrown. Default: counted from `scan`
    /// (`countEventsFromScan`); a backend overrides it to count closer to its data.
    func countEvents(_ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void) async throws

    /// Deletes every event and the vault row of `pseudonym`, and seals `audit(counts)`, in one transaction.
    func erase(_ pseudonym: Pseudonym, audit: @escaping @Sendable (ErasureCounts) -> AuditDraft) async throws
        -> ErasureCounts

    /// The latest stored event time (Unix ms), nil when the store is empty. Metadata for choosing a
    /// training cutoff: answered from an index, reads no event content.
    func latestEventMillis() async throws -> Int64?

    /// Whether any stored event has `range.lowerBound <= ts_ms < range.upperBound`. Metadata for checking
    /// a label horizon: answered from an index, reads no event row.
    func containsEvents(in range: Range<Int64>) async throws -> Bool

    /// Exact counts of the stored events — per UTC day and type, events and distinct pseudonyms — the
    /// stored time range and the store's size, read from one snapshot. Operational metadata for the
    /// operator: it reads pseudonyms only to count them and returns no event content.
    func statistics() async throws -> StoredEventStatistics

    /// Waits until everything committed so far is in the store's main files (SQLite: the write-ahead
    /// log copied into the database file) and returns the seconds waited; 0 for a backend with
    /// nothing to do. Durability never depends on it.
    func settle() async throws -> Double
}

extension EventStore {
    public var maxWriteConnections: Int { 1 }
    public var eventsPerWriteUnit: Int { 0 }

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
