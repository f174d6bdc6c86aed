import Foundation
import VeilCore
import VeilCrypto
import VeilStore

@testable import VeilIngest

/// A scratch directory with keys and a data directory, removed when the fixture goes away.
final class Fixture: @unchecked Sendable {
    let root: String
    let keys: KeyRing
    let store: SQLiteEventStore
    let audit = RecordingAudit()
    var policy = Policy()
    /// 2026-11-23T12:00:00Z
    static let now = Date(timeIntervalSince1970: 1_795_435_200)

    init() throws {
        root = NSTemporaryDirectory() + "veil-service-\(UUID().uuidString)"
        keys = try KeyRing.initialize(directory: root + "/keys")
        store = try SQLiteEventStore(directory: root + "/data")
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var dataDirectory: String { root + "/data" }

    func service(_ policy: Policy? = nil) -> IngestService {
        IngestService(store: store, keys: keys, policy: policy ?? self.policy, audit: audit, clock: .fixed(Fixture.now))
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

/// Remembers every audit record.
final class RecordingAudit: AuditRecording, @unchecked Sendable {
    struct Entry: Sendable {
        var actor: String
        var action: String
        var details: [String: JSONValue]
    }

    private let lock = NSLock()
    private var stored: [Entry] = []

    var entries: [Entry] { lock.withLock { stored } }

    func record(actor: String, action: AuditAction, details: [String: JSONValue]) throws -> UInt64 {
        lock.withLock {
            stored.append(Entry(actor: actor, action: action.rawValue, details: details))
            return UInt64(stored.count)
        }
    }
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
