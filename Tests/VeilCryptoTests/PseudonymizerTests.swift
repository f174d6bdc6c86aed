import Foundation
import Testing
import VeilCore
@testable import VeilCrypto

private struct PIDVectorFile: Decodable {
    struct Vector: Decodable {
        let master_key_hex: String
        let epoch: UInt32
        let context: String
        let id: String
        let pid: String
    }
    let vectors: [Vector]
}

@Suite struct PseudonymizerTests {
    @Test func matchesIndependentPyNaClVectors() throws {
        let file = try Fixtures.vectors("pid_vectors", as: PIDVectorFile.self)
        #expect(file.vectors.count >= 60)
        for vector in file.vectors {
            let master = SecretBytes(copying: try #require(Hex.decode(vector.master_key_hex)))
            let context = try #require(PseudonymContext(rawValue: vector.context))
            let pseudonymizer = Pseudonymizer(master: master, epoch: vector.epoch, context: context)
            #expect(pseudonymizer.pseudonym(for: vector.id).hex == vector.pid, "epoch \(vector.epoch) \(vector.context)")
        }
    }

    @Test func epochsAndContextsSeparatePseudonyms() {
        let master = SecretBytes(randomCount: 32)
        let id = "customer-42"
        let users1 = Pseudonymizer(master: master, epoch: 1, context: .user).pseudonym(for: id)
        let users2 = Pseudonymizer(master: master, epoch: 2, context: .user).pseudonym(for: id)
        let sessions1 = Pseudonymizer(master: master, epoch: 1, context: .session).pseudonym(for: id)
        #expect(users1 != users2)
        #expect(users1 != sessions1)
        #expect(Pseudonymizer(master: master, epoch: 1, context: .user).pseudonym(for: id) == users1)
    }

    @Test func pseudonymHexIs32LowercaseCharactersAndRoundTrips() throws {
        let pid = Pseudonymizer(master: SecretBytes(randomCount: 32), epoch: 1, context: .user).pseudonym(for: "a")
        #expect(pid.hex.count == 32)
        #expect(pid.hex == pid.hex.lowercased())
        #expect(Pseudonym(hex: pid.hex) == pid)
        #expect(Pseudonym(hex: pid.hex.uppercased()) == pid)
        #expect(Pseudonym(hex: "abc") == nil)
    }
}
