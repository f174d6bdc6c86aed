import Foundation
import VeilCore
import VeilCrypto
import VeilAudit
import VeilStore
import VeilTestSupport

@testable import VeilIngest

/// A scratch directory with keys and a data directory, removed when the fixture goes away.
final class Fixture: @unchecked Sendable {
    let root: String
    let keys: KeyRing
    /// Real stores (SQLite) sealing with the fixture's audit key.
    let stores: StoreSet
    var policy = Policy()
    /// 2026-11-23T12:00:00Z
    static let now = Date(timeIntervalSince1970: 1_795_435_200)

    init() throws {
        root = NSTemporaryDirectory() + "veil-service-\(UUID().uuidString)"
        keys = try KeyRing.initialize(directory: root + "/keys")
        stores = try ScratchStores.open(in: root + "/data", signingKey: keys.auditSigningKey, clock: .fixed(Fixture.now))
    }

    var store: any EventStore { stores.events }
    var vault: any IdentityVault { stores.vault }

    /// The chain's records, oldest first.
    func auditEntries() async throws -> [AuditBody] { try await stores.chainBodies() }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var dataDirectory: String { root + "/data" }

    func service(_ policy: Policy? = nil) -> IngestService {
        IngestService(store: store, keys: keys, policy: policy ?? self.policy, clock: .fixed(Fixture.now))
    }

    func escrowSecret() throws -> EscrowSecretKey {
        try KeyRing.loadEscrowSecret(path: root + "/keys/escrow.secret", publicKeyDirectory: root + "/keys")
    }

    /// Writes `text` to a file under the fixture and returns its path.
    func file(_ name: String, _ text: String) throws -> String {
        let path = root + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func pid(_ userID: String) -> Pseudonym { keys.userPseudonymizer.pseudonym(for: userID) }
}

/// One NDJSON event line with sensible defaults; `overrides` replace or add raw JSON members.
func eventLine(
    id: String = "e1", user: String = "alice@example.com", type: String = "view",
    timestamp: String = "2026-11-23T11:00:00Z", extra: String = ""
) -> String {
    var members = [
        #""event_id":"\#(id)""#, #""user_id":"\#(user)""#, #""type":"\#(type)""#, #""timestamp":"\#(timestamp)""#,
    ]
    if !extra.isEmpty { members.append(extra) }
    return "{" + members.joined(separator: ",") + "}"
}

func body(_ lines: [String]) -> Data { Data(lines.joined(separator: "\n").utf8) }

/// The mapping a mapping file with `yaml` describes (the file's rules checked as `veil ingest` checks them).
func mapping(_ yaml: String) throws -> ImportMapping {
    try MappingFile.parse(yaml: yaml, name: "test.yaml").get()
}
