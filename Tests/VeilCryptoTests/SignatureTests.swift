import Foundation
import Testing
import VeilCore
import VeilCrypto

private struct Ed25519VectorFile: Decodable {
    struct Vector: Decodable {
        let secret_key: String
        let public_key: String
        let message: String
        let signature: String
    }
    let vectors: [Vector]
}

@Suite struct SignatureTests {
    @Test func rfc8032TestVectors() throws {
        let file = try Fixtures.vectors("rfc8032_ed25519", as: Ed25519VectorFile.self)
        for vector in file.vectors {
            let key = SigningKey(seed: SecretBytes(copying: try #require(Hex.decode(vector.secret_key))))
            let message = try #require(Hex.decode(vector.message))
            #expect(Hex.encode(key.publicKey.bytes) == vector.public_key)
            let signature = key.signature(for: message)
            #expect(Hex.encode(signature) == vector.signature)
            #expect(key.publicKey.isValidSignature(signature, for: message))
        }
    }

    @Test func rejectsAlteredMessageOrSignature() {
        let key = SigningKey.generate()
        let message = Array("seq 1".utf8)
        var signature = key.signature(for: message)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: Array("seq 2".utf8)))
        signature[0] ^= 1
        #expect(!key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(Array(signature.prefix(63)), for: message))
        #expect(!SigningKey.generate().publicKey.isValidSignature(key.signature(for: message), for: message))
    }

    @Test func blake2b256KnownAnswer() {
        // BLAKE2b-256("abc"), as computed by Python's hashlib (an implementation independent of libsodium).
        #expect(Hex.encode(BLAKE2b.hash256(Array("abc".utf8))) == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        #expect(BLAKE2b.hash256(Array("a".utf8), Array("bc".utf8)) == BLAKE2b.hash256(Array("abc".utf8)))
    }
}
