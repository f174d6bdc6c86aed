import Foundation
import Testing
import VeilCore
import VeilCrypto
import VeilStore
import VeilTestSupport
@testable import VeilAccess

@Suite struct TokenServiceTests {
    let directory = ScratchStores.directory()
    let stores: StoreSet
    let master = SecretBytes(randomCount: 32)
    let service: TokenService

    init() throws {
        stores = try ScratchStores.open(in: directory)
        service = TokenService(store: stores.tokens, master: master)
    }

    @Test func issuedTokenVerifiesToItsPrincipalAndIsAudited() async throws {
        let issued = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        #expect(issued.token.hasPrefix("veil_"))
        #expect(issued.token.count == 5 + 43)
        #expect(try await service.authenticate(token: issued.token) == Principal(name: "storefront", role: .ingest))
        let records = try await stores.chainBodies()
        #expect(records.count == 1)
        #expect(records.first?.action == "token.issue")
        #expect(records.first?.actor == "cli")
        #expect(records.first?.details == ["name": .string("storefront"), "role": .string("ingest")])
    }

    @Test func onlyAKeyedHashIsStored() async throws {
        let issued = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        let secret = try #require(Base64URL.decode(String(issued.token.dropFirst(5))))
        let stored = try #require(try await stores.tokens.all().first)
        #expect(stored.hash.count == 32)
        #expect(stored.hash != secret)
        let expected = BLAKE2b.keyedHash(secret, key: KeyDerivation.subkey(id: 1, context: "veil-tok", master: master), outputLength: 32)
        #expect(stored.hash == expected)
        let file = try Data(contentsOf: URL(fileURLWithPath: stores.location))
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: stores.location + "-wal"))) ?? Data()
        #expect(file.range(of: Data(issued.token.utf8)) == nil)
        #expect(wal.range(of: Data(issued.token.utf8)) == nil)
    }

    @Test func revokedTokenNoLongerVerifies() async throws {
        let issued = try await service.issue(name: "storefront", role: .ingest, actor: "cli")
        try await service.revoke(name: "storefront", actor: "cli")
        #expect(try await service.authenticate(token: issued.token) == nil)
        #expect(try await stores.chainActions() == ["token.issue", "token.revoke"])
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
        let other = TokenService(store: stores.tokens, master: SecretBytes(randomCount: 32))
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
