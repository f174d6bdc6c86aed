import Foundation
import Testing
import VeilCore
import VeilCrypto

@Suite struct KeyFileTests {
    private let directory: String

    init() {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("veil-keys-\(UUID().uuidString)").path
    }

    private func path(_ file: KeyFile) -> String { (directory as NSString).appendingPathComponent(file.rawValue) }

    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    private func expectKeyFileError(mentioning file: KeyFile, _ fragment: String) {
        do {
            _ = try KeyRing.load(directory: directory)
            Issue.record("loading should have failed")
        } catch let error as VeilError {
            #expect(error.code == .keyFile)
            #expect(error.field == path(file))
            #expect(error.message.contains(fragment), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func initWritesFilesWithPrivateModesAndLoads() throws {
        let created = try KeyRing.initialize(directory: directory)
        #expect(try mode(directory) == 0o700)
        for file in KeyFile.allCases {
            #expect(try mode(path(file)) == (file.isSecret ? 0o600 : 0o644), "\(file.rawValue)")
            let text = try String(contentsOfFile: path(file), encoding: .utf8)
            #expect(text.hasSuffix("\n") && text.dropLast().allSatisfy { !$0.isNewline })
            #expect(Data(base64Encoded: String(text.dropLast()))?.count == 32)
        }
        let loaded = try KeyRing.load(directory: directory)
        #expect(loaded.epoch == 1)
        #expect(loaded.master == created.master)
        #expect(loaded.auditSigningKey.publicKey == created.auditSigningKey.publicKey)
        #expect(loaded.escrowPublicKey == created.escrowPublicKey)
        let escrow = try KeyRing.loadEscrowSecret(path: path(.escrowSecret), publicKeyDirectory: directory)
        #expect(escrow.publicKey == created.escrowPublicKey)
    }

    @Test func initRefusesToOverwrite() throws {
        try KeyRing.initialize(directory: directory)
        let before = try String(contentsOfFile: path(.master), encoding: .utf8)
        #expect(throws: VeilError.self) { try KeyRing.initialize(directory: directory) }
        #expect(try String(contentsOfFile: path(.master), encoding: .utf8) == before)
    }

    @Test func refusesGroupReadableSecret() throws {
        try KeyRing.initialize(directory: directory)
        chmod(path(.master), 0o640)
        expectKeyFileError(mentioning: .master, "chmod 600")
    }

    @Test func refusesTruncatedKey() throws {
        try KeyRing.initialize(directory: directory)
        try "AAAA\n".write(toFile: path(.auditSecret), atomically: false, encoding: .utf8)
        expectKeyFileError(mentioning: .auditSecret, "holds 3 bytes, expected 32")
    }

    @Test func refusesBadBase64() throws {
        try KeyRing.initialize(directory: directory)
        try "not base64!!\n".write(toFile: path(.master), atomically: false, encoding: .utf8)
        expectKeyFileError(mentioning: .master, "not valid standard base64")
    }

    @Test func refusesMissingFile() throws {
        try KeyRing.initialize(directory: directory)
        try FileManager.default.removeItem(atPath: path(.escrowPublic))
        expectKeyFileError(mentioning: .escrowPublic, "veil keys init")
    }

    @Test func refusesMismatchedAuditPair() throws {
        try KeyRing.initialize(directory: directory)
        let other = SigningKey.generate().publicKey.bytes
        try (Data(other).base64EncodedString() + "\n").write(toFile: path(.auditPublic), atomically: false, encoding: .utf8)
        expectKeyFileError(mentioning: .auditPublic, "does not match")
    }
}
