import Foundation
import Testing
import VeilCore
import VeilCrypto

@Suite struct EscrowTests {
    private let escrow = EscrowSecretKey.generate()
    private let pseudonymizer = Pseudonymizer(master: SecretBytes(randomCount: 32), epoch: 1, context: .user)

    @Test func roundTripWithTheEscrowSecret() throws {
        let sealer = EscrowSealer(publicKey: escrow.publicKey)
        let opener = EscrowOpener(secretKey: escrow)
        let dataKey = try opener.openDataKey(sealer.sealedKey)
        for id in ["alice@example.com", "Zoë 李", String(repeating: "x", count: 256)] {
            let pid = pseudonymizer.pseudonym(for: id)
            let escrowed = sealer.seal(id, for: pid)
            #expect(escrowed.nonce.count == 24)
            #expect(escrowed.ciphertext.count == id.utf8.count + 16)
            #expect(try opener.open(escrowed, pseudonym: pid, dataKey: dataKey) == id)
        }
    }

    @Test func aCiphertextMovedToAnotherPseudonymDoesNotOpen() throws {
        let sealer = EscrowSealer(publicKey: escrow.publicKey)
        let opener = EscrowOpener(secretKey: escrow)
        let dataKey = try opener.openDataKey(sealer.sealedKey)
        let escrowed = sealer.seal("alice", for: pseudonymizer.pseudonym(for: "alice"))
        #expect(throws: VeilError.self) {
            try opener.open(escrowed, pseudonym: pseudonymizer.pseudonym(for: "bob"), dataKey: dataKey)
        }
    }

    @Test func anotherEscrowKeyCannotOpenTheDataKey() {
        let sealer = EscrowSealer(publicKey: escrow.publicKey)
        #expect(throws: VeilError.self) {
            try EscrowOpener(secretKey: EscrowSecretKey.generate()).openDataKey(sealer.sealedKey)
        }
    }

    @Test func escrowedIDOpensWithPyNaCl() throws {
        let sealer = EscrowSealer(publicKey: escrow.publicKey)
        let id = "pynacl-check-Zoë@example.com"
        let pid = pseudonymizer.pseudonym(for: id)
        let escrowed = sealer.seal(id, for: pid)
        let secret = escrow.secret.withUnsafeBytes { Data($0).base64EncodedString() }
        let exported: [String: String] = [
            "escrow_secret": secret,
            "sealed_data_key": Data(sealer.sealedKey.sealed).base64EncodedString(),
            "nonce": Data(escrowed.nonce).base64EncodedString(),
            "ciphertext": Data(escrowed.ciphertext).base64EncodedString(),
            "pseudonym": pid.hex,
        ]
        let opened = try Fixtures.python("scripts/reference/open_escrow.py", input: JSONEncoder().encode(exported))
        #expect(opened == id)
    }
}
