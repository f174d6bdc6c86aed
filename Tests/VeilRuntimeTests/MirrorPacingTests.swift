import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore
import VeilStoreSQLite

@testable import VeilLedger

/// Background catch-ups of `audit.log` start at least `catchUpInterval` apart, so that the commits of
/// that time share one append and one `fsync`; `drain` ends a pause at once. Before, each replica's
/// mirror caught up again as soon as the last catch-up ended, an appending `fsync` after nearly every
/// commit.
@Suite struct MirrorPacingTests {
    /// A store with a chain, and its mirror synced with catch-ups an hour apart.
    private static func paced() throws -> (StoreSet, AuditMirrorSync, AuditMirror, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-pacing-\(UUID().uuidString)").path
        let key = SigningKey.generate()
        let stores = try SQLiteStores.open(directory: directory, configuration: StoreConfiguration(sealer: AuditSigner(signingKey: key)))
        let mirror = try AuditMirror(path: AuditMirror.path(dataDirectory: directory), publicKey: key.publicKey)
        let sync = AuditMirrorSync(mirror: mirror, chain: stores.audit, storeLocation: directory, catchUpInterval: .seconds(3600))
        return (stores, sync, mirror, directory)
    }

    private static func record(_ n: Int, in stores: StoreSet) async throws {
        _ = try await stores.audit.append(AuditDraft(actor: "test", action: .budgetSpend, details: ["n": .int(Int64(n))]))
    }

    /// The first catch-up runs at once; one scheduled within the interval after it waits (the mirror
    /// stays at the first record meanwhile) until `drain`, which ends the pause and leaves every record
    /// mirrored.
    @Test(.timeLimit(.minutes(10))) func aCatchUpWithinTheIntervalWaitsAndDrainEndsThePause() async throws {
        let (stores, sync, mirror, directory) = try Self.paced()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.record(1, in: stores)
        sync.scheduleCatchUp()
        #expect(await sync.drain() == nil)
        #expect(try mirror.head().seq == 1)

        for n in 2...4 {
            try await Self.record(n, in: stores)
            sync.scheduleCatchUp()
        }
        // The runner pauses before it reads anything (no deadline here: the suite's time limit ends a hang).
        while !sync.isPausing { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try mirror.head().seq == 1, "a paused catch-up appends nothing")

        #expect(await sync.drain() == nil)
        #expect(try mirror.head().seq == 4)
        #expect(!sync.isPausing)
    }
}
