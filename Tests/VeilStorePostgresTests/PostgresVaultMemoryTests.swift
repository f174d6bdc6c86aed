import Foundation
import PostgresNIO
import Testing
import VeilCore
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

/// An import's memory of vault rows (`VaultMemory`): it spares lookups, and is never trusted where a
/// row may be gone — after another process's erasure, during the import's own transaction, or after
/// a transaction that rolled back.
@Suite(.enabled(if: PostgresTestCluster.unavailableReason == nil, "PostgreSQL is not installed"))
struct PostgresVaultMemoryTests {
    typealias Fixture = PostgresEventStoreTests

    struct Abandoned: Error {}

    /// `batches` imported into `store` in one transaction (`commitAll`, as one unit); if `abandoned`,
    /// the producer fails after that unit was written, and the transaction rolls back.
    static func importing(_ batches: [EventBatchWrite], into store: PostgresEventStore, abandoned: Bool = false) async throws -> BatchCommit {
        let stream = EventBatchStream()
        for batch in batches { stream.send(batch) }
        stream.finish(throwing: abandoned ? Abandoned() : nil)
        return try await store.commitAll(stream, stored: { _ in }) { _ in
            AuditDraft(actor: "import", action: .ingestBatch, details: [:])
        }
    }

    static func erase(_ user: UInt64, in store: PostgresEventStore) async throws {
        _ = try await store.erase(Fixture.pseudonym(user)) { _ in AuditDraft(actor: "dpo", action: .subjectErase, details: [:]) }
    }

    @Test func anImportLearnsTheVaultRowsItCommittedAndNotThoseOfARolledBackOne() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Fixture.store(database)
        let first = try await Self.importing([Fixture.batch([Fixture.event("a", user: 1, at: Fixture.start)])], into: store)
        #expect(first.newIdentities == 1)
        // User 2's vault row is created, then rolled back with the transaction.
        await expectError({
            _ = try await Self.importing([Fixture.batch([Fixture.event("b", user: 2, at: Fixture.start)])], into: store, abandoned: true)
        }, matches: { $0 is CallerError || $0 is Abandoned })
        #expect(try await store.identity(for: Fixture.pseudonym(2)) == nil)
        let mark = try await database.withConnection("read the mark") { try await VaultMemory.mark($0, logger: database.logger) }
        #expect(store.vaultMemory.known(under: mark) == [Fixture.pseudonym(1)])
        // User 2's row was rolled back with its events: the next import creates it.
        let again = try await Self.importing(
            [Fixture.batch([Fixture.event("b", user: 2, at: Fixture.start), Fixture.event("c", user: 1, at: Fixture.start)])], into: store)
        #expect(again == BatchCommit(inserted: 2, duplicates: 0, newIdentities: 1))
        #expect(try await store.identity(for: Fixture.pseudonym(2)) != nil)
    }

    @Test func anErasureByAnotherProcessIsSeenBeforeTheMemoryIsTrusted() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let other = try await VeilPostgresDatabase.open(database.location)
        defer { other.close() }
        let store = Fixture.store(database)
        _ = try await Self.importing([Fixture.batch([Fixture.event("a", user: 5, at: Fixture.start)])], into: store)
        try await Self.erase(5, in: Fixture.store(other))
        // The memory still names user 5; the erasure's mark tells the import not to trust it.
        let again = try await Self.importing([Fixture.batch([Fixture.event("b", user: 5, at: Fixture.start)])], into: store)
        #expect(again.newIdentities == 1)
        #expect(try await store.identity(for: Fixture.pseudonym(5)) != nil)
    }

    @Test func anErasureWhileAnImportIsWrittenFailsTheImportIfItTookARowTheImportReliedOn() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let other = try await VeilPostgresDatabase.open(database.location)
        defer { other.close() }
        let store = Fixture.store(database)
        let eraser = Fixture.store(other)
        _ = try await Self.importing([Fixture.batch([Fixture.event("a", user: 5, at: Fixture.start), Fixture.event("b", user: 6, at: Fixture.start)])], into: store)
        let writer = PostgresBatchWriter(logger: database.logger)
        try await EventPartitions(database: database).ensure(days: [Fixture.start / Fixture.day])

        // Another user's erasure moves the mark; the rows relied on are still there: the import commits.
        var vault: VaultTransaction?
        let unaffected = try await database.withTransaction("write a unit") { connection in
            vault = try await VaultTransaction.begin(store.vaultMemory, connection, logger: database.logger)
            let results = try await writer.store(
                [Fixture.batch([Fixture.event("c", user: 5, at: Fixture.start)])], connection, copyClaim: true, vault: &vault)
            try await Self.erase(7, in: eraser)
            #expect(try await vault?.confirm(connection, logger: database.logger) == nil, "the mark moved: nothing is learned")
            return results
        }
        #expect(unaffected == [BatchCommit(inserted: 1, duplicates: 0, newIdentities: 0)])
        #expect(vault?.relied == [Fixture.pseudonym(5)])

        // User 6 is erased after the transaction took its row from the memory: it fails, storing nothing.
        let memory = VaultMemory()
        let mark = try await database.withConnection("read the mark") { try await VaultMemory.mark($0, logger: database.logger) }
        _ = memory.known(under: mark)
        memory.learn([Fixture.pseudonym(6)], under: mark)
        await expectError({
            _ = try await database.withTransaction("write a unit") { connection in
                var vault: VaultTransaction? = try await VaultTransaction.begin(memory, connection, logger: database.logger)
                _ = try await writer.store(
                    [Fixture.batch([Fixture.event("d", user: 6, at: Fixture.start)])], connection, copyClaim: true, vault: &vault)
                try await Self.erase(6, in: eraser)
                return try await vault?.confirm(connection, logger: database.logger)
            }
        }, matches: { ($0 as? VeilError)?.field == "vault" })
        #expect(try await store.events(for: Fixture.pseudonym(6)).isEmpty)
        // Written again, the events escrow the identity again.
        let again = try await Self.importing([Fixture.batch([Fixture.event("d", user: 6, at: Fixture.start)])], into: store)
        #expect(again.newIdentities == 1)
        #expect(try await store.identity(for: Fixture.pseudonym(6)) != nil)
    }

    @Test func aUnitLooksUpOnlyThePseudonymsItsTransactionDoesNotKnow() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Fixture.store(database)
        _ = try await Self.importing([Fixture.batch([Fixture.event("a", user: 1, at: Fixture.start)])], into: store)
        let writer = PostgresBatchWriter(logger: database.logger)
        try await EventPartitions(database: database).ensure(days: [Fixture.start / Fixture.day])
        let (results, vault) = try await database.withTransaction("write two units") { connection in
            var vault: VaultTransaction? = try await VaultTransaction.begin(store.vaultMemory, connection, logger: database.logger)
            var results = try await writer.store(
                [Fixture.batch([Fixture.event("b", user: 1, at: Fixture.start), Fixture.event("c", user: 2, at: Fixture.start)])],
                connection, copyClaim: true, vault: &vault)
            results += try await writer.store(
                [Fixture.batch([Fixture.event("d", user: 2, at: Fixture.start), Fixture.event("e", user: 3, at: Fixture.start)])],
                connection, copyClaim: true, vault: &vault)
            return (results, vault)
        }
        #expect(results.map(\.newIdentities) == [1, 1])
        #expect(vault?.relied == [Fixture.pseudonym(1)], "user 1 from the memory, user 2 from the first unit")
        #expect(vault?.established == [Fixture.pseudonym(2), Fixture.pseudonym(3)])
        #expect(try await store.identityCount() == 3)
    }
}
