import Foundation
import VeilCore
import VeilCrypto
import VeilStore

/// The one ingest pipeline: parse → validate → minimise → pseudonymise → escrow new identities →
/// store → audit. The HTTP gateway calls `ingestBatch`; `veil ingest` (the `EventImporter`) feeds
/// the same validation and commit steps record by record.
///
/// Raw user and session IDs exist only in memory while a batch is handled: the store receives
/// pseudonyms and escrow ciphertexts, problems name fields and rules, and the audit chain gets counts:
/// one `ingest.batch` record per batch (or per import), sealed by the store in the batch's transaction.
public final class IngestService: EventIngesting {
    public let store: any EventStore
    public let policy: Policy
    private let users: Pseudonymizer
    private let sessions: Pseudonymizer
    private let contentKeys: ContentKeyer
    private let epoch: UInt32
    /// One sealer per service (per process): one data key, sealed once, stored once in `data_keys`.
    private let sealer: EscrowSealer
    private let dataKey: DataKeyRecord
    private let clock: WallClock
    private let dropped: Set<EventField>

    /// - Parameters:
    ///   - store: where events, vault rows and `ingest.batch` records are committed.
    ///   - keys: the serving keys (master key for pseudonyms, escrow public key, epoch).
    ///   - policy: batch limits, `ingest.drop_fields`, future-skew allowance.
    ///   - clock: the time future timestamps are judged against.
    public init(store: any EventStore, keys: KeyRing, policy: Policy, clock: WallClock = .system) {
        self.store = store
        self.policy = policy
        users = keys.userPseudonymizer
        sessions = keys.sessionPseudonymizer
        contentKeys = ContentKeyer(master: keys.master)
        epoch = keys.epoch
        sealer = EscrowSealer(publicKey: keys.escrowPublicKey)
        dataKey = DataKeyRecord(id: sealer.sealedKey.id, sealed: sealer.sealedKey.sealed, created: clock.now())
        self.clock = clock
        dropped = Set(policy.ingest.dropFields.compactMap { EventField(rawValue: $0) }).intersection(EventField.droppable)
    }

    // MARK: EventIngesting

    public func ingestBatch(_ body: Data, format: EventBatchFormat, actor: String) async throws -> IngestSummary {
        let limits = policy.ingest
        guard body.count <= limits.maxBodyBytes else {
            throw VeilError(
                .tooLarge, field: "body",
                "is larger than \(limits.maxBodyBytes) bytes (policy ingest.max_body_bytes); split the batch")
        }
        let validator = makeValidator()
        let now = nowMillis()
        var valid: [ValidEvent] = []
        var problems: [EventProblem] = []
        var tally = ProblemTally(showsTypeValues: true)
        var rejected = 0
        var count = 0
        var drafts: [EventProblemDraft] = []
        try body.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let handle = { (index: Int, record: ParsedRecord) throws -> Bool in
                count += 1
                guard count <= limits.maxBatchEvents else {
                    throw VeilError(
                        .tooLarge, field: "body",
                        "holds more than \(limits.maxBatchEvents) events (policy ingest.max_batch_events); split the batch")
                }
                drafts.removeAll(keepingCapacity: true)
                if let event = Self.validate(record, validator, now, &drafts) {
                    valid.append(event)
                } else {
                    rejected += 1
                    problems += drafts.map { EventProblem(index: index, field: $0.field, message: $0.message) }
                    tally.add(drafts, at: index, record: record)
                }
                return true
            }
            switch format {
            case .ndjson:
                try EventJSONParser.forEachNDJSONRecord(in: bytes) { ordinal, _, record in try handle(ordinal, record) }
            case .jsonArray:
                try EventJSONParser.forEachArrayElement(in: bytes, handle)
            }
        }
        guard problems.isEmpty else {
            throw BatchRejected(problems: problems, rejectedEvents: rejected, summary: tally.summary())
        }
        let droppedProperties = valid.reduce(0) { $0 + $1.droppedProperties }
        guard !valid.isEmpty else { return IngestSummary(accepted: 0, duplicates: 0) }
        let result = try await commit(prepare(valid), actor: actor)
        return IngestSummary(accepted: result.inserted, duplicates: result.duplicates, propertiesDropped: droppedProperties)
    }

    // MARK: Pipeline steps (shared with EventImporter)

    /// The event rules under this policy. An import (`requiresEventID` false) may leave `event_id` out.
    func makeValidator(timestamps: TimestampReading = .utcRFC3339, requiresEventID: Bool = true) -> EventValidator {
        EventValidator(
            maxFutureSkewMillis: Int64(policy.ingest.maxFutureSkewSeconds) * 1000,
            earliestMillis: Int64(policy.ingest.earliestEventDay) * 86_400_000, maxPrice: policy.ingest.maxPrice,
            maxQuantity: policy.ingest.maxQuantity, timestamps: timestamps, requiresEventID: requiresEventID,
            propertyRules: policy.properties)
    }

    func nowMillis() -> Int64 { clock.nowMillis() }

    /// Validates one parsed record; on failure appends its problems to `drafts` and returns nil.
    static func validate(
        _ record: ParsedRecord, _ validator: EventValidator, _ now: Int64, _ drafts: inout [EventProblemDraft]
    ) -> ValidEvent? {
        switch record {
        case .event(let raw):
            return validator.validate(raw, nowMillis: now, problems: &drafts)
        case .malformed(let draft):
            drafts.append(draft)
            return nil
        }
    }

    /// Valid events, minimised and pseudonymised, with the raw user IDs of their pseudonyms kept in
    /// memory for escrow.
    struct PreparedBatch: Sendable {
        var events: [StoredEvent]
        var rawUserIDs: [Pseudonym: String]
        /// Indices of the events whose `eventID` was derived from their content (`ContentKey`); an
        /// import numbers repeats among them in file order (`ContentKeyNumbering`) before storing.
        var derived: [Int] = []
    }

    /// Minimises (drops `ingest.drop_fields`) and pseudonymises user and session IDs, hashing each
    /// distinct ID of the batch once. An event without an `event_id` gets its content key.
    func prepare(_ valid: [ValidEvent]) -> PreparedBatch {
        var events: [StoredEvent] = []
        events.reserveCapacity(valid.count)
        // Sized for the worst case (every event a new user and session): growing a dictionary
        // rehashes every ID in it, which cost more than the pseudonyms themselves. Keyed by the IDs'
        // bytes, as the pseudonyms are (a `String` key took "é" composed and decomposed for one user).
        var userPIDs: [ExactText: Pseudonym] = Dictionary(minimumCapacity: valid.count)
        var sessionPIDs: [ExactText: Pseudonym] = Dictionary(minimumCapacity: valid.count)
        var raw: [Pseudonym: String] = Dictionary(minimumCapacity: valid.count)
        var derived: [Int] = []
        let dropSession = dropped.contains(.sessionID)
        for event in valid {
            let pid: Pseudonym
            if let cached = userPIDs[ExactText(event.userID)] {
                pid = cached
            } else {
                pid = users.pseudonym(for: event.userID)
                userPIDs[ExactText(event.userID)] = pid
                raw[pid] = event.userID
            }
            var session: Pseudonym? = nil
            if !dropSession, let sessionID = event.sessionID {
                if let cached = sessionPIDs[ExactText(sessionID)] {
                    session = cached
                } else {
                    let value = sessions.pseudonym(for: sessionID)
                    sessionPIDs[ExactText(sessionID)] = value
                    session = value
                }
            }
            var stored = StoredEvent(
                eventID: event.eventID ?? "", pseudonym: pid, epoch: epoch, type: event.type,
                timestampMillis: event.timestampMillis, session: session, itemID: event.itemID, category: event.category,
                price: event.price, quantity: event.quantity, rating: event.rating, query: event.query,
                properties: event.properties)
            if !dropped.isEmpty { minimise(&stored) }
            if event.eventID == nil {
                let canonical = ContentKey.canonicalBytes(
                    userID: event.userID, sessionID: stored.session == nil ? nil : event.sessionID, stored)
                stored.eventID = ContentKey.prefix + contentKeys.digest(canonical)
                derived.append(events.count)
            }
            events.append(stored)
        }
        return PreparedBatch(events: events, rawUserIDs: raw, derived: derived)
    }

    private func minimise(_ event: inout StoredEvent) {
        for field in dropped {
            switch field {
            case .itemID: event.itemID = nil
            case .category: event.category = nil
            case .price: event.price = nil
            case .quantity: event.quantity = nil
            case .rating: event.rating = nil
            case .query: event.query = nil
            case .sessionID: event.session = nil
            case .eventID, .userID, .type, .timestamp: break
            }
        }
    }

    /// Escrows new identities and stores the batch with its `ingest.batch` record in one transaction.
    func commit(_ batch: PreparedBatch, actor: String) async throws -> BatchCommit {
        let events = batch.events.count
        var write = write(batch)
        write.audit = { result in Self.ingestRecord(actor: actor, events: events, result) }
        return try await store.commit(write)
    }

    /// Escrows and stores every batch sent to `batches`, in order, in one transaction — all or
    /// nothing — with one `ingest.batch` record for them all. `stored` is called after each batch is
    /// written, before the commit. If the producer finishes `batches` with an error, nothing is stored
    /// and that error is rethrown as it is.
    func commitAll(
        _ batches: EventBatchStream, actor: String, stored: @escaping @Sendable (BatchCommit) -> Void
    ) async throws -> BatchCommit {
        try await store.commitAll(
            batches, stored: stored,
            audit: { total in Self.ingestRecord(actor: actor, events: total.inserted + total.duplicates, total) })
    }

    /// What the store needs to commit `batch`: its events, and how to escrow its new identities.
    func write(_ batch: PreparedBatch) -> EventBatchWrite {
        let sealer = sealer
        let epoch = epoch
        let rawUserIDs = batch.rawUserIDs
        return EventBatchWrite(events: batch.events, dataKey: dataKey) { pseudonym in
            guard let rawID = rawUserIDs[pseudonym] else {
                throw VeilError(.integrity, field: "vault", "a new pseudonym has no identity to escrow")
            }
            let escrowed = sealer.seal(rawID, for: pseudonym)
            return VaultRecord(
                pseudonym: pseudonym, epoch: epoch, dataKeyID: escrowed.dataKeyID, nonce: escrowed.nonce,
                ciphertext: escrowed.ciphertext)
        }
    }

    /// The `ingest.batch` record of a commit: counts only.
    private static func ingestRecord(actor: String, events: Int, _ result: BatchCommit) -> AuditDraft {
        AuditDraft(
            actor: actor, action: .ingestBatch,
            details: [
                "events": .int(Int64(events)), "accepted": .int(Int64(result.inserted)),
                "duplicates": .int(Int64(result.duplicates)), "new_identities": .int(Int64(result.newIdentities)),
            ])
    }
}
