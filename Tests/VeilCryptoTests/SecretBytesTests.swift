import Testing
import VeilCrypto

@Suite struct SecretBytesTests {
    @Test func descriptionRevealsNothing() {
        let secret = SecretBytes(copying: Array("hunter2-secret-key-material-0001".utf8))
        #expect(secret.description == "SecretBytes(32 bytes, redacted)")
        #expect(!String(reflecting: secret).contains("hunter2"))
        #expect(!"\(secret)".contains("hunter2"))
    }

    @Test func comparesByContent() {
        let bytes = (0..<32).map { UInt8($0) }
        #expect(SecretBytes(copying: bytes) == SecretBytes(copying: bytes))
        #expect(SecretBytes(copying: bytes) != SecretBytes(copying: bytes.reversed()))
        #expect(SecretBytes(copying: bytes) != SecretBytes(copying: Array(bytes.prefix(16))))
    }

    @Test func wipeZeroesAnArray() {
        var bytes: [UInt8] = [1, 2, 3, 4]
        SecretBytes.wipe(&bytes)
        #expect(bytes == [0, 0, 0, 0])
    }

    @Test func randomSecretsDiffer() {
        #expect(SecretBytes(randomCount: 32) != SecretBytes(randomCount: 32))
    }
}
