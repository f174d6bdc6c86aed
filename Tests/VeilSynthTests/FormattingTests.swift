import Foundation
import Testing
import VeilCore
@testable import VeilSynth

@Suite struct FormattingTests {
    @Test func parsesAndPrintsDates() throws {
        let date = try #require(CivilDate("2026-01-01"))
        #expect(date.description == "2026-01-01")
        #expect(date.weekday == 3)  // Thursday
        #expect(date.adding(days: 59).description == "2026-03-01")
        #expect(CivilDate("2028-02-29")?.description == "2028-02-29")
        #expect(CivilDate("2000-02-29") != nil)
        #expect(CivilDate("1970-01-01")?.daysSinceEpoch == 0)
        #expect(CivilDate("9999-12-31")?.daysSinceEpoch == CivilDate.maxDays)
        for bad in ["2026-02-29", "2100-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "26-01-01", "2026/01/01",
                    "2026-01-32", "1969-12-31", "", "2026-01-01T00:00:00Z", "２026-01-01"] {
            #expect(CivilDate(bad) == nil, "\(bad)")
        }
    }

    @Test func civilDatesMatchFoundation() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for days in stride(from: 0, through: 2_932_896, by: 9_973) {
            let date = CivilDate(daysSinceEpoch: days)
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: Date(timeIntervalSince1970: Double(days) * 86400))
            #expect(date.year == parts.year && date.month == parts.month && date.day == parts.day)
            #expect((date.weekday + 1) % 7 + 1 == parts.weekday)  // Foundation: 1 = Sunday
            #expect(CivilDate(date.description) == date)
        }
    }

    @Test func formatsNumbers() {
        var buffer = ByteBuffer(capacity: 8)
        func text(_ body: (inout ByteBuffer) -> Void) -> String {
            buffer.removeAll()
            buffer.reserve(64)
            body(&buffer)
            return String(decoding: buffer.array, as: UTF8.self)
        }
        #expect(text { $0.money(cents: 0) } == "0.00")
        #expect(text { $0.money(cents: 5) } == "0.05")
        #expect(text { $0.money(cents: 99) } == "0.99")
        #expect(text { $0.money(cents: 100) } == "1.00")
        #expect(text { $0.money(cents: 123_456_789) } == "1234567.89")
        #expect(text { $0.decimal(0) } == "0")
        #expect(text { $0.decimal(Int.max) } == String(Int.max))
        #expect(text { $0.decimal(7, width: 4) } == "0007")
        #expect(text { $0.decimal(12345, width: 4) } == "12345")
        #expect(text { $0.twoDigits(9) } == "09")
        for value in [1, 9, 10, 99, 100, 65_535, 1_000_000] {
            #expect(text { $0.decimal(value) } == String(value))
        }
        #expect(text { $0.fixed(0, decimals: 6) } == "0.000000")
        #expect(text { $0.fixed(-0.0000004, decimals: 6) } == "0.000000")
        #expect(text { $0.fixed(-1.5, decimals: 3) } == "-1.500")
        #expect(text { $0.fixed(1.0, decimals: 6) } == "1.000000")
        #expect(text { $0.fixed(2e10, decimals: 3) } == "20000000000.0")
        var random = ShopperRandom(rootKey: [1, 2, 3, 4], user: 0, purpose: 0)
        for _ in 0..<2000 {
            let value = Double.random(in: -1000...1000, using: &random) * Double.random(in: 0...1, using: &random)
            let written = text { $0.fixed(value, decimals: 6) }
            #expect(abs(Double(written)! - value) <= 0.5e-6 + 1e-12, "\(value) → \(written)")
            #expect(written.split(separator: ".").last?.count == 6)
        }
        // Growth keeps what was written.
        buffer.removeAll()
        for index in 0..<10_000 {
            buffer.reserve(8)
            buffer.decimal(index % 10)
        }
        #expect(buffer.count == 10_000)
        #expect(buffer.array.prefix(12) == Array("012345678901".utf8)[...])
    }

    @Test func vocabularyMatchesVeilCore() {
        #expect(ShopperCatalog.categories == Policy().categories)
        #expect(Set(ShopperCatalog.eventTypes) == Set(EventType.allCases.map(\.rawValue)))
        for queries in Catalog.queries {
            for query in queries {
                #expect(query.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
            }
        }
    }
}
