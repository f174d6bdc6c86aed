import Testing
import VeilCore

@Suite struct RFC3339Tests {
    @Test func formatIsTheInverseOfParse() {
        #expect(RFC3339.format(millis: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(millis: 1_795_435_200_250) == "2026-11-23T12:00:00.250Z")
        #expect(RFC3339.format(millis: -1) == "1969-12-31T23:59:59.999Z")
        for millis: Int64 in [0, 1, 999, 86_399_999, 852_076_800_000, 1_795_435_200_250, -86_400_001, 253_402_300_799_999] {
            #expect(RFC3339.parseMillis(RFC3339.format(millis: millis)) == millis, "\(millis)")
        }
    }
}
