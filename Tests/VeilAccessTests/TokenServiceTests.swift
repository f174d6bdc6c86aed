import Foundation
import GRDB
import Testing
import VeilCore
import VeilCrypto
import VeilStore
@testable import VeilAccess

/// TEST ONLY. Collects audit records in memory.
final class AuditSpy: AuditRecording, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [(actor: String, action: String, details: [String: JSONValue])] = []

    var records: [(actor: String, action: String, details: [String: JSONValue])] { lock.withLock { recorded } }

    func record(actor: String, action: AuditAction, details: [String: JSONValue]) throws -> UInt64 {
        lock.withLock {
            recorded.append((actor, action.rawValue, details))
            return UInt64(recorded.count)
        }
    }
}

@Suite struct TokenServiceTests {
    let directory: URL
    let database: VeilDatabase
    let master = SecretBytes(randomCount: 32)
    let audit = AuditSpy()
    let service: TokenService

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-access-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        database = try VeilDatabase(directory: directory.path)
        service = TokenService(store: SQLiteTokenStore(database: database), master: master, audit: audit)
    }

    @Test func issuedTokenVerifiesToItsPrincipalAndIsAudited() async throws {
        let issued = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        #expect(issued.token.hasPrefix("veil_"))
        #expect(issued.token.count == 5 + 43)
        #expect(try await service.authenticate(token: issued.token) == Principal(name: "storefront", role: .ingest))
        #expect(audit.records.count == 1)
        #expect(audit.records.first?.action == "token.issue")
        #expect(audit.records.first?.actor == "cli")
        #expect(audit.records.first?.details == ["name": .string("storefront"), "role": .string("ingest")])
    }

    @Test func onlyAKeyedHashIsStored() async throws {
        let issued = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        let secret = try #require(Base64URL.decode(String(issued.token.dropFirst(5))))
        let row = try database.pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM tokens") }
        let hash: Data = try #require(row)["hash"]
        #expect(hash.count == 32)
        #expect([UInt8](hash) != secret)
        let expected = BLAKE2b.keyedHash(secret, key: KeyDerivation.subkey(id: 1, context: "veil-tok", master: master), outputLength: 32)
        #expect([UInt8](hash) == expected)
        let columns = try #require(row).columnNames.sorted()
        #expect(columns == ["created", "hash", "name", "revoked", "role"])
        let file = try Data(contentsOf: URL(fileURLWithPath: database.path))
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: database.path + "-wal"))) ?? Data()
        #expect(file.range(of: Data(issued.token.utf8)) == nil)
        #expect(wal.range(of: Data(issued.token.utf8)) == nil)
    }

    @Test func revokedTokenNoLongerVerifies() async throws {
        let issued = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        try await service.revoke(name: "storefront", actor: "cli")
        #expect(try await service.authenticate(token: issued.token) == nil)
        #expect(audit.records.map(\.action) == ["token.issue", "token.revoke"])
        await #expect(throws: VeilError.self) { try await service.revoke(name: "storefront", actor: "cli") }
        let listed = try await service.list()
        #expect(listed.count == 1)
        #expect(listed.first?.revoked != nil)
    }

    @Test func tamperedUnknownOrForeignTokensDoNotVerify() async throws {
        let issued = try await service.issue(name: "storefront", role: .admin, actor: "cli")
        var tampered = Array(issued.token)
        tampered[10] = tampered[10] == "A" ? "B" : "A"
        #expect(try await service.authenticate(token: String(tampered)) == nil)
        #expect(try await service.authenticate(token: String(issued.token.dropLast())) == nil)
        #expect(try await service.authenticate(token: "Veil_" + issued.token.dropFirst(5)) == nil)
        let other = TokenService(store: SQLiteTokenStore(database: database), master: SecretBytes(randomCount: 32), audit: nil)
        #expect(try await other.authenticate(token: issued.token) == nil)
    }

    @Test func namesAreUniqueAndChecked() async throws {
        _ = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        try await service.revoke(name: "storefront", actor: "cli")
        await #expect {
            _ = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        } throws: { ($0 as? VeilError)?.code == .alreadyExists }
        for bad in ["", "has space", String(repeating: "x", count: 65), "ünïcode"] {
            await #expect {
                _ = try await service.issue(name: bad, role: .ingest, actor: "cli")
            } throws: { ($0 as? VeilError)?.code == .invalidInput }
        }
    }

    @Test func listShowsNamesRolesAndDatesOnly() async throws {
        let issued = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        _ = try await service.issue(name: "ops", role: .admin, actor: "cli")
        let listed = try await service.list()
        #expect(listed.map(\.name).sorted() == ["ops", "storefront"])
        let json = String(decoding: try JSONEncoder().encode(listed), as: UTF8.self)
        #expect(!json.contains(issued.token))
        #expect(!json.contains("hash"))
    }

    @Test func adminPermitsEverythingOtherRolesOnlyThemselves() {
        for role in Role.allCases {
            #expect(Role.admin.permits(role))
            #expect(role.permits(role))
        }
        #expect(!Role.ingest.permits(.admin))
        #expect(!Role.analyst.permits(.ingest))
    }
}
