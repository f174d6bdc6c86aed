import Foundation
import Testing
import VeilCore
import VeilCrypto
import VeilIngest
import VeilRuntime

/// A data directory belongs to one key set (crash-contract.md §4, issue 11 item 4): another deployment's
/// `master.key` or audit key is refused, naming the file, before anything is read or written; the
/// directory's events and vault rows stay reachable with its own keys. (On the old code the foreign
/// master key was used silently: ingest went on under new pseudonyms and erasure missed the user's
/// earlier events.)
@Suite struct KeySetTests {
    /// A deployment with one user's events stored, and another key directory.
    private static func deploymentWithEvents() async throws -> (Deployment, foreign: String) {
        let deployment = try Deployment()
        let context = try await deployment.open()
        let events = (0..<5).map {
            #"{"event_id":"e\#($0)","user_id":"alice@example.com","type":"view","timestamp":"2026-01-01T00:00:0\#($0)Z"}"#
        }
        _ = try await context.ingestPipeline().ingestBatch(Data(events.joined(separator: "\n").utf8), format: .ndjson, actor: "test")
        await context.close()
        let foreign = deployment.root + "/foreign-keys"
        try KeyRing.initialize(directory: foreign)
        return (deployment, foreign)
    }

    private static func replace(_ file: KeyFile, in deployment: Deployment, from foreign: String) throws {
        let target = deployment.keys + "/" + file.rawValue
        try FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: foreign + "/" + file.rawValue, toPath: target)
    }

    @Test func aForeignMasterKeyIsRefusedNamingTheFile() async throws {
        let (deployment, foreign) = try await Self.deploymentWithEvents()
        let original = try Data(contentsOf: URL(fileURLWithPath: deployment.keys + "/master.key"))
        try Self.replace(.master, in: deployment, from: foreign)
        let headBefore = try deployment.mirrorLines().count

        let error = try await #require(throws: VeilError.self) { try await deployment.open() }
        #expect(error.code == .keyFile)
        #expect(error.field == deployment.keys + "/master.key")
        #expect(error.message.contains("belongs to another key set"))
        #expect(try deployment.mirrorLines().count == headBefore, "nothing was written")

        // With its own master key the directory opens, and erasure finds the user's events.
        try original.write(to: URL(fileURLWithPath: deployment.keys + "/master.key"))
        let context = try await deployment.open()
        let erased = try await context.subjectEraser().erase(userID: "alice@example.com", actor: "test")
        #expect(erased.eventsDeleted == 5 && erased.vaultRowsDeleted == 1)
    }

    @Test func aForeignAuditKeyIsRefusedNamingTheFiles() async throws {
        let (deployment, foreign) = try await Self.deploymentWithEvents()
        try Self.replace(.auditPublic, in: deployment, from: foreign)
        try Self.replace(.auditSecret, in: deployment, from: foreign)
        let error = try await #require(throws: VeilError.self) { try await deployment.open() }
        #expect(error.code == .keyFile)
        #expect(error.field?.contains("audit.pub") == true && error.field?.contains("audit.secret") == true)
        #expect(error.message.contains("belongs to another key set"))
    }

    /// An auditor holding only another deployment's `audit.pub` is told so, naming that file.
    @Test func anAuditorWithAForeignPublicKeyIsRefused() async throws {
        let (deployment, foreign) = try await Self.deploymentWithEvents()
        let key = try KeyRing.loadAuditPublicKey(path: foreign + "/audit.pub")
        let error = try await #require(throws: VeilError.self) {
            _ = try await OpenedDataDirectory.open(directory: deployment.data, auditPublicKey: key, keyPath: foreign + "/audit.pub")
        }
        #expect(error.field == foreign + "/audit.pub")
    }
}
