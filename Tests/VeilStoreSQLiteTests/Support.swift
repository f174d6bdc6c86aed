import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore
import VeilStoreContract
@testable import VeilStoreSQLite

extension StoreBackend {
    /// SQLite in a fresh temporary data directory.
    static let sqlite = StoreBackend(name: "sqlite") {
        let directory = NSTemporaryDirectory() + "veil-store-contract-\(UUID().uuidString)"
        return StoreDeployment(
            open: { configuration in try SQLiteStores.open(directory: directory, configuration: configuration) },
            remove: { try? FileManager.default.removeItem(atPath: directory) })
    }
}

/// A scratch data directory, removed at the end of the test.
final class ScratchDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "veil-store-\(UUID().uuidString)"
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The SQLite backend's pieces over one data directory, sealing with a fresh key.
struct SQLiteFixture {
    let database: VeilDatabase
    let chain: SQLiteAuditChain
    let events: SQLiteEventStore

    init(directory: String, signingKey: SigningKey = .generate()) throws {
        database = try VeilDatabase(directory: directory)
        chain = SQLiteAuditChain(configuration: StoreConfiguration(sealer: AuditSigner(signingKey: signingKey)))
        events = SQLiteEventStore(database: database, chain: chain)
    }
}

func pid(_ n: UInt64) -> Pseudonym { Pseudonym(high: n, low: ~n) }

func event(_ id: String, _ user: UInt64, at ts: Int64, type: EventType = .view) -> StoredEvent {
    StoredEvent(
        eventID: id, pseudonym: pid(user), epoch: 1, type: type, timestampMillis: ts, session: pid(99),
        itemID: "sku-1", category: "books", price: 9.5, quantity: 2, rating: nil, query: nil)
}

let testKey = DataKeyRecord(id: "k1", sealed: [UInt8](repeating: 7, count: 80), created: Date(timeIntervalSince1970: 0))

func batch(_ events: [StoredEvent]) -> EventBatchWrite {
    EventBatchWrite(
        events: events, dataKey: testKey,
        escrow: { pseudonym in VaultRecord(pseudonym: pseudonym, epoch: 1, dataKeyID: "k1", nonce: [1, 2, 3], ciphertext: [4, 5, 6]) },
        audit: { result in AuditDraft(actor: "test", action: .ingestBatch, details: ["accepted": .int(Int64(result.inserted))]) })
}

func erasure(_ counts: ErasureCounts) -> AuditDraft {
    AuditDraft(actor: "test", action: .subjectErase, details: ["events": .int(Int64(counts.events))])
}
