import Testing
import VeilCore

@Suite struct HexTests {
    @Test func roundTrip() {
        let bytes: [UInt8] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff]
        #expect(Hex.encode(bytes) == "00017f80feff")
        #expect(Hex.decode("00017f80feff") == bytes)
        #expect(Hex.decode("00017F80FEFF") == bytes)
    }

    @Test func rejectsOddLengthAndNonHex() {
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func pseudonymBytesAndHexAgree() throws {
        let bytes = (0..<16).map { UInt8($0 * 17) }
        let pid = try #require(Pseudonym(bytes: bytes))
        #expect(pid.bytes == bytes)
        #expect(pid.hex == Hex.encode(bytes))
        #expect(Pseudonym(bytes: bytes.prefix(15)) == nil)
    }
}
