import Foundation
import Testing
import VeilCore

@testable import VeilIngest

/// The expression language of import mappings: grammar, evaluation, and its bounds.
@Suite struct MappingExpressionTests {
    /// Evaluates `source` over one row of `columns` = `cells`.
    func value(_ source: String, _ columns: [String], _ cells: [String]) throws -> MappingValue {
        let position = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
        return try BoundExpression(try MappingExpression(source), position: position).evaluate(cells)
    }

    @Test func arithmeticFollowsPrecedenceAndParentheses() throws {
        let columns = ["amount", "quantity", "fee"]
        let row = ["15.30", "6", "0.5"]
        #expect(try value("amount / quantity", columns, row) == .number(15.30 / 6))
        #expect(try value("amount - fee * 2", columns, row) == .number(15.30 - 1))
        #expect(try value("(amount - fee) * 2", columns, row) == .number((15.30 - 0.5) * 2))
        #expect(try value("-fee + 1e1", columns, row) == .number(9.5))
        #expect(try value("amount/quantity/2", columns, row) == .number(15.30 / 6 / 2))
        #expect(try value("`amount`", columns, row) == .text("15.30"))
    }

    @Test func textConcatenationCoalesceAndEmptyCells() throws {
        let columns = ["sku", "size", "user_id", "user_pseudo_id", "Event Name"]
        let row = ["A1", "", "", "p-9", "page_view"]
        #expect(try value(#"concat(sku, "-", size)"#, columns, row) == .text("A1-"))
        #expect(try value(#"concat(size, size)"#, columns, row) == .missing)
        #expect(try value("coalesce(user_id, user_pseudo_id)", columns, row) == .text("p-9"))
        #expect(try value("`Event Name`", columns, row) == .text("page_view"))
        #expect(try value(#""say ""hi"" \" \\""#, columns, row) == .text(#"say "hi" " \"#))
        // Arithmetic on an empty cell leaves the field empty rather than inventing a 0.
        #expect(try value("size * 2", columns, row) == .missing)
        #expect(try value("concat(sku, 2.5, 3)", columns, row) == .text("A12.53"))
    }

    @Test func evaluationFailuresNameTheColumnNeverTheValue() throws {
        let columns = ["amount", "quantity"]
        for (source, cells, rule) in [
            ("amount / quantity", ["secret-value", "2"], "the column amount is not a number"),
            ("amount / quantity", ["10", "0"], "divides by zero (the column quantity is 0)"),
            ("amount / (quantity - 2)", ["10", "2"], "divides by zero (an operand is 0)"),
            ("amount * 2", ["0x10", "1"], "the column amount is not a number"),
            ("amount * 2", ["inf", "1"], "the column amount is not a number"),
        ] {
            let failure = #expect(throws: EvaluationFailure.self) { _ = try value(source, columns, cells) }
            #expect(failure?.rule == rule)
            #expect(failure?.rule.contains("secret") == false)
        }
    }

    @Test func syntaxErrorsNameThePositionAndTheRule() {
        for (source, rule) in [
            ("amount // quantity", "at position 9: expected a column name, a number, \"text\" or (; a column name with other characters goes in `backquotes`"),
            ("amount /", "ends too early: expected a column name, a number, \"text\" or ("),
            ("(amount", "ends too early: expected ) to close the ( before it"),
            ("sum(amount)", "at position 1: sum( is not a function; the functions are concat, coalesce"),
            (#"concat(a, "b)"#, "ends too early: a \"text\" is not closed with \""),
            ("amount quantity", "at position 8: expected an operator (+ - * /), a comma or the end of the expression"),
            ("`amount", "at position 1: a `column name` is not closed with `"),
            ("1e", "at position 2: expected an operator (+ - * /), a comma or the end of the expression"),
            // RecBole's typed header names, written bare.
            ("user_id:token", "at position 8: expected an operator (+ - * /), a comma or the end of the expression; a column name with other characters goes in `backquotes`"),
            (".", "at position 1: expected a number such as 12, 0.5 or 1e3"),
            ("", "ends too early: expected a column name, a number, \"text\" or ("),
        ] {
            #expect(throws: MappingRuleError(rule), "\(source)") { _ = try MappingExpression(source) }
        }
    }

    @Test func boundsHoldForDeepAndLongExpressions() throws {
        _ = try MappingExpression(String(repeating: "(", count: 31) + "a" + String(repeating: ")", count: 31))
        let deep = String(repeating: "(", count: 40) + "a" + String(repeating: ")", count: 40)
        #expect(throws: MappingRuleError("at position 33: nests deeper than 32 levels")) { _ = try MappingExpression(deep) }
        // Deeper than any stack: refused by the bound, not by a crash.
        #expect(throws: MappingRuleError.self) { _ = try MappingExpression(String(repeating: "-", count: 1_000) + "1") }
        #expect(throws: MappingRuleError("is longer than 1024 bytes; an expression is one short line")) {
            _ = try MappingExpression(String(repeating: "a+", count: 600) + "a")
        }
        let many = "concat(" + Array(repeating: "a", count: 65).joined(separator: ",") + ")"
        #expect(throws: MappingRuleError.self) { _ = try MappingExpression(many) }
        #expect(try MappingExpression("concat(a, b, a) + c").columns == ["a", "b", "c"])
    }
}

/// Mapping files are validated as policies are: every key known, every value checked, each problem
/// with its dotted key and line.
@Suite struct MappingFileTests {
    @Test func aCompleteFileSetsEverything() throws {
        let mapping = try mapping("""
            format: csv
            delimiter: semicolon
            quote: single
            columns: [customer, date, quantity, amount, page]
            fields:
              user_id: customer
              timestamp: date
              price: amount / quantity
              type: page
            constants:
              category: music
              quantity: 1
            types:
              home: skip
              product: view
              1: purchase
            timestamp:
              format: "%Y%m%d"
              time_zone: Europe/Berlin
            """)
        #expect(mapping.format == .csv && mapping.delimiter == .semicolon && mapping.quote == .single)
        #expect(mapping.columns == ["customer", "date", "quantity", "amount", "page"])
        #expect(mapping.fields[.price]?.source == "amount / quantity")
        #expect(mapping.types == ["home": .skip, "product": .type(.view), "1": .type(.purchase)])
        #expect(mapping.timestamp.zone?.name == "Europe/Berlin")
        #expect(mapping.origins["fields.price"] == "test.yaml line 8")
    }

    @Test func everyProblemNamesItsKeyAndLine() {
        let yaml = """
            delimiter: spaces
            fields:
              user_id: customer
              price: amount // quantity
              colour: amount
              quantity: 3
            constants:
              timestamp: 2026-01-01
              type: teleport
            types:
              home: skipp
            timestamp:
              format: epoch_minutes
              time_zone: Mars/Olympus
            extra: true
            """
        guard case .failure(let rejected) = MappingFile.parse(yaml: yaml, name: "shop.yaml") else {
            Issue.record("a broken mapping was accepted")
            return
        }
        let found = rejected.issues.map { "\($0.field ?? "-")@\($0.line ?? 0)" }
        #expect(found == [
            "delimiter@1", "fields.price@4", "fields.colour@5", "fields.quantity@6", "constants.timestamp@8",
            "constants.type@9", "types.home@11", "timestamp.format@13", "timestamp.time_zone@14", "extra@15",
        ])
        #expect(rejected.issues[0].rule == "must be one of comma, tab, semicolon, pipe, double_colon, whitespace, not spaces")
        #expect(rejected.issues[3].rule.hasSuffix("a fixed value goes under constants:"))
    }

    @Test func rulesBetweenKeys() {
        for (yaml, rule) in [
            ("columns: [a, b]\nfields: {user_id: a, price: c}", "fields.price reads the column c, which columns does not name (test.yaml line 2)"),
            ("columns: [a, b]", "no column gives user_id: map one (fields: user_id: COLUMN, or --map user_id=COLUMN)"),
            ("format: ndjson\nfields: {user_id: a}", "fields map CSV columns; an NDJSON file's events name their fields (format: ndjson)"),
            ("columns: [a, a]", "names the column a twice"),
            ("timestamp: {format: epoch_millis, time_zone: UTC}", "a time zone does not apply to Unix times (epoch_millis), which are instants"),
        ] {
            guard case .failure(let rejected) = MappingFile.parse(yaml: yaml, name: "test.yaml") else {
                Issue.record("accepted: \(yaml)")
                continue
            }
            #expect(rejected.issues.map(\.rule) == [rule], "\(yaml)")
        }
    }

    @Test func anOversizedOrBinaryFileIsRefusedWithoutItsContent() throws {
        let directory = NSTemporaryDirectory() + "veil-mapping-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let big = directory + "/big.yaml"
        try Data(("types:\n" + String(repeating: "  secret-value: view\n", count: 20_000)).utf8).write(to: URL(fileURLWithPath: big))
        let error = #expect(throws: MappingFileRejected.self) { _ = try MappingFile.load(path: big) }
        #expect(error?.description.contains("is larger than 262144 bytes") == true)
        #expect(error?.description.contains("secret") == false)
        #expect(throws: VeilError.self) { _ = try MappingFile.load(path: directory + "/missing.yaml") }
    }
}

/// Timestamp layouts and time zones, against values computed independently (`date -u -d`).
@Suite struct TimestampReadingTests {
    func reading(_ layout: String, zone: String? = nil) throws -> TimestampReading {
        try TimestampReading(layout: try TimestampReading.layout(named: layout), zone: zone.map(ImportTimeZone.init))
    }

    @Test func unixTimes() throws {
        #expect(try reading("epoch_seconds").millis("1325376000") == 1_325_376_000_000)
        #expect(try reading("epoch_seconds").millis("1325376000.25") == 1_325_376_000_250)
        #expect(try reading("epoch_millis").millis("1700000000123") == 1_700_000_000_123)
        #expect(try reading("epoch_micros").millis("1700000000123456") == 1_700_000_000_123)
        #expect(try reading("epoch_millis").millis(RawValue.number(1_700_000_000_123, integer: 1_700_000_000_123)) == 1_700_000_000_123)
        for bad in ["", "12a", "1.5", "0x10", "1e9", "9999999999999999999"] {
            #expect(try reading("epoch_millis").millis(bad) == nil, "\(bad)")
        }
    }

    @Test func localTimesInAZone() throws {
        // 2026-07-01 12:00 in Berlin is CEST (+02:00); 2026-01-15 12:00 is CET (+01:00).
        let berlin = try reading("%Y-%m-%d %H:%M", zone: "Europe/Berlin")
        #expect(berlin.millis("2026-07-01 12:00") == DateText.millis("2026-07-01T10:00:00Z"))
        #expect(berlin.millis("2026-01-15 12:00") == DateText.millis("2026-01-15T11:00:00Z"))
        // New York, the day after daylight saving time began (2026-03-08): EDT, -04:00.
        #expect(try reading("%Y%m%d", zone: "America/New_York").millis("20260309") == DateText.millis("2026-03-09T04:00:00Z"))
        #expect(try reading("%Y%m%d", zone: "+05:30").millis("20260309") == DateText.millis("2026-03-08T18:30:00Z"))
        #expect(try reading("%Y%m%d").millis("20260309") == DateText.millis("2026-03-09T00:00:00Z"))
        // RFC 3339 values with an offset keep it; without one they are read in the zone.
        let rfc = try reading("rfc3339", zone: "Europe/Berlin")
        #expect(rfc.millis("2026-07-01T12:00:00Z") == DateText.millis("2026-07-01T12:00:00Z"))
        #expect(rfc.millis("2026-07-01T12:00:00") == DateText.millis("2026-07-01T10:00:00Z"))
        #expect(rfc.millis("2026-07-01") == DateText.millis("2026-06-30T22:00:00Z"))
        #expect(TimestampReading.utcRFC3339.millis("2026-07-01T12:00:00") == nil)
        #expect(throws: MappingRuleError.self) { _ = try ImportTimeZone("Mars/Olympus") }
        #expect(throws: MappingRuleError.self) { _ = try ImportTimeZone("+25:00") }
    }
}
