import Foundation
import Testing
import VeilCore

@testable import VeilIngest

/// One case per event rule: the line, and exactly the problems it must produce.
struct RuleCase: Sendable, CustomTestStringConvertible {
    let rule: String
    let line: String
    let problems: [EventProblem]
    var testDescription: String { rule }

    init(_ rule: String, _ line: String, _ problems: [(String, String)]) {
        self.rule = rule
        self.line = line
        self.problems = problems.map { EventProblem(index: 0, field: $0.0, message: $0.1) }
    }
}

/// The event fields in the order the unknown-field message lists them.
let fieldNames = "event_id, user_id, type, timestamp, session_id, item_id, category, price, quantity, rating, query"

let ruleCases: [RuleCase] = [
    RuleCase(
        "event_id required", #"{"user_id":"u","type":"view","timestamp":"2026-11-23T11:00:00Z"}"#,
        [("event_id", "is required")]),
    RuleCase(
        "event_id length", eventLine(id: String(repeating: "x", count: 129)),
        [("event_id", "must be between 1 and 128 bytes of UTF-8")]),
    RuleCase("event_id empty", eventLine(id: ""), [("event_id", "must be between 1 and 128 bytes of UTF-8")]),
    RuleCase(
        "event_id type", #"{"event_id":7,"user_id":"u","type":"view","timestamp":"2026-11-23T11:00:00Z"}"#,
        [("event_id", "must be a string")]),
    RuleCase(
        "user_id required", #"{"event_id":"e","type":"view","timestamp":"2026-11-23T11:00:00Z"}"#,
        [("user_id", "is required")]),
    RuleCase(
        "user_id length", eventLine(user: String(repeating: "é", count: 129)),
        [("user_id", "must be between 1 and 256 bytes of UTF-8")]),
    RuleCase(
        "user_id type", #"{"event_id":"e","user_id":["u"],"type":"view","timestamp":"2026-11-23T11:00:00Z"}"#,
        [("user_id", "must be a string")]),
    RuleCase(
        "type required", #"{"event_id":"e","user_id":"u","timestamp":"2026-11-23T11:00:00Z"}"#,
        [("type", "is required")]),
    RuleCase(
        "type unknown", eventLine(type: "like"),
        [
            (
                "type",
                "must be one of view, search, click, add_to_cart, remove_from_cart, checkout, purchase, return, review or a GA4 alias (docs/ingest.md)"
            )
        ]),
    RuleCase(
        "type is case-sensitive", eventLine(type: "View"),
        [
            (
                "type",
                "must be one of view, search, click, add_to_cart, remove_from_cart, checkout, purchase, return, review or a GA4 alias (docs/ingest.md)"
            )
        ]),
    RuleCase(
        "timestamp required", #"{"event_id":"e","user_id":"u","type":"view"}"#, [("timestamp", "is required")]),
    RuleCase(
        "timestamp without zone", eventLine(timestamp: "2026-11-23T11:00:00"),
        [("timestamp", "must be an RFC 3339 date-time with a time zone offset or Z (e.g. 2026-11-23T10:15:00Z)")]),
    RuleCase(
        "timestamp impossible date", eventLine(timestamp: "2026-02-30T11:00:00Z"),
        [("timestamp", "must be an RFC 3339 date-time with a time zone offset or Z (e.g. 2026-11-23T10:15:00Z)")]),
    RuleCase(
        "timestamp as number", #"{"event_id":"e","user_id":"u","type":"view","timestamp":1795435200}"#,
        [("timestamp", "must be a string")]),
    RuleCase(
        "timestamp in the future", eventLine(timestamp: "2026-11-23T12:05:01Z"),
        [("timestamp", "must not be more than 300 seconds in the future (policy ingest.max_future_skew_seconds)")]),
    RuleCase(
        "session_id empty", eventLine(extra: #""session_id":"""#),
        [("session_id", "must be between 1 and 256 bytes of UTF-8")]),
    RuleCase("item_id type", eventLine(extra: #""item_id":42"#), [("item_id", "must be a string")]),
    RuleCase("category type", eventLine(extra: #""category":true"#), [("category", "must be a string")]),
    RuleCase(
        "price negative", eventLine(extra: #""price":-0.01"#),
        [("price", "must be a number from 0 to 1000000 (policy ingest.max_price)")]),
    RuleCase(
        "price not finite", eventLine(extra: #""price":1e400"#),
        [("price", "must be a number from 0 to 1000000 (policy ingest.max_price)")]),
    RuleCase("price as string", eventLine(extra: #""price":"9.99""#), [("price", "must be a number")]),
    RuleCase(
        "quantity zero", eventLine(extra: #""quantity":0"#),
        [("quantity", "must be an integer from 1 to 10000 (policy ingest.max_quantity)")]),
    RuleCase(
        "quantity fractional", eventLine(extra: #""quantity":1.5"#),
        [("quantity", "must be an integer from 1 to 10000 (policy ingest.max_quantity)")]),
    RuleCase("quantity as string", eventLine(extra: #""quantity":"2""#), [("quantity", "must be an integer")]),
    RuleCase(
        "rating out of range", eventLine(type: "review", extra: #""rating":6"#),
        [("rating", "must be an integer from 1 to 5")]),
    RuleCase(
        "rating only on reviews", eventLine(type: "purchase", extra: #""rating":4"#),
        [("rating", "is allowed only on review events")]),
    RuleCase("query type", eventLine(extra: #""query":{"q":1}"#), [("query", "must be a string")]),
    RuleCase(
        "unknown field, named by position", eventLine(extra: #""a@b.c":"x""#),
        [("event", "field #5 is not a known event field; the fields are \(fieldNames)")]),
    RuleCase("repeated field", eventLine(extra: #""type":"view""#), [("type", "appears more than once")]),
    RuleCase("not an object", #"["e1"]"#, [("event", "must be a JSON object")]),
    RuleCase(
        "timestamp in year 0", eventLine(timestamp: "0000-01-01T00:00:00Z"),
        [("timestamp", "must not be before 1990-01-01 (policy ingest.earliest_event_date)")]),
    RuleCase("price of 1.7e308 (finite, accepted before)", eventLine(extra: #""price":1.7e308"#), [("price", "must be a number from 0 to 1000000 (policy ingest.max_price)")]),
    RuleCase("price past the policy's bound", eventLine(extra: #""price":1000000.01"#), [("price", "must be a number from 0 to 1000000 (policy ingest.max_price)")]),
    RuleCase("quantity past the policy's bound", eventLine(extra: #""quantity":10001"#), [("quantity", "must be an integer from 1 to 10000 (policy ingest.max_quantity)")]),
    RuleCase(
        "nesting past 32 levels in a value", eventLine(extra: #""query":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40)),
        [("event", "is not valid JSON: arrays and objects nest deeper than 32 levels (byte 135)")]),
    RuleCase(
        "200,000 levels of nesting", String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000),
        [("event", "is not valid JSON: arrays and objects nest deeper than 32 levels (byte 32)")]),
    RuleCase(
        "malformed JSON", #"{"event_id":"e1","user_id":"u""#,
        [("event", "is not valid JSON: unterminated object (byte 30)")]),
]

@Suite struct ValidationTests {
    @Test(arguments: ruleCases)
    func rule(_ rule: RuleCase) async throws {
        let fixture = try Fixture()
        let service = fixture.service()
        let error = await #expect(throws: BatchRejected.self) {
            _ = try await service.ingestBatch(Data(rule.line.utf8), format: .ndjson, actor: "test")
        }
        #expect(error?.problems == rule.problems)
        #expect(try await fixture.store.eventCount() == 0)
    }

    @Test func everyProblemOfEveryEventIsReported() async throws {
        let fixture = try Fixture()
        let lines = [
            eventLine(id: "ok"),
            #"{"event_id":"","type":"nap","timestamp":"yesterday","price":-1,"colour":"red"}"#,
            eventLine(id: "ok2"),
            eventLine(id: "bad", extra: #""quantity":0"#),
        ]
        let error = await #expect(throws: BatchRejected.self) {
            _ = try await fixture.service().ingestBatch(body(lines), format: .ndjson, actor: "test")
        }
        #expect(error?.problems.map { "\($0.index) \($0.field)" } == [
            "1 event", "1 event_id", "1 user_id", "1 type", "1 timestamp", "1 price", "3 quantity",
        ])
    }

    @Test func problemsNeverContainValues() async throws {
        let fixture = try Fixture()
        let secret = "secret-value-\(UUID().uuidString)"
        let lines = [
            eventLine(id: secret, user: secret, type: secret, timestamp: secret, extra: #""price":"\#(secret)""#),
            #"{"event_id":"\#(secret)","user_id":"\#(secret)"#,
        ]
        let error = await #expect(throws: BatchRejected.self) {
            _ = try await fixture.service().ingestBatch(body(lines), format: .ndjson, actor: "test")
        }
        let problems = try #require(error).problems
        #expect(problems.count == 4)
        for problem in problems {
            #expect(!problem.message.contains("secret-value"))
            #expect(!problem.field.contains("secret-value"))
        }
    }

    @Test func acceptsEveryValidShape() async throws {
        let fixture = try Fixture()
        let lines = [
            eventLine(id: "a", timestamp: "2026-11-23T12:04:59.999Z"),
            eventLine(id: "b", timestamp: "2026-11-23t13:00:00.123456+02:00"),
            eventLine(id: "c", timestamp: "2026-11-23 06:00:00-05:00"),
            eventLine(
                id: "d", type: "review",
                extra: #""session_id":"s1","item_id":"sku","category":"books","price":0,"quantity":3,"rating":5,"query":null"#),
            eventLine(id: "e", user: "caf\\u00e9 \\ud83d\\ude00", type: "search", extra: #""query":"blue \"shoes\"""#),
            eventLine(id: "f", extra: #""quantity":2.0"#),
        ]
        let summary = try await fixture.service().ingestBatch(body(lines) + Data("\n\n".utf8), format: .ndjson, actor: "t")
        #expect(summary == IngestSummary(accepted: 6, duplicates: 0))
        let stored = try await fixture.store.events(for: fixture.pid("alice@example.com"))
        #expect(stored.map(\.timestampMillis) == [1_795_431_600_000, 1_795_431_600_000, 1_795_431_600_000, 1_795_431_600_123, 1_795_435_499_999])
        let review = try #require(stored.first { $0.eventID == "d" })
        #expect(review.rating == 5 && review.quantity == 3 && review.price == 0 && review.category == "books")
        #expect(review.session == fixture.keys.sessionPseudonymizer.pseudonym(for: "s1"))
        #expect(try await fixture.store.events(for: fixture.pid("café 😀")).count == 1)
    }

    @Test func jsonArrayFormat() async throws {
        let fixture = try Fixture()
        let array = Data(("[" + [eventLine(id: "a"), eventLine(id: "b")].joined(separator: ",\n") + "]").utf8)
        #expect(try await fixture.service().ingestBatch(array, format: .jsonArray, actor: "t") == IngestSummary(accepted: 2, duplicates: 0))
        let bad = Data(("[" + eventLine(id: "c") + ", 3, " + eventLine(id: "d", type: "x") + "]").utf8)
        let error = await #expect(throws: BatchRejected.self) {
            _ = try await fixture.service().ingestBatch(bad, format: .jsonArray, actor: "t")
        }
        #expect(error?.problems.map { "\($0.index) \($0.field)" } == ["1 event", "2 type"])
        let notArray = await #expect(throws: BatchRejected.self) {
            _ = try await fixture.service().ingestBatch(Data(eventLine().utf8), format: .jsonArray, actor: "t")
        }
        #expect(notArray?.problems == [EventProblem(index: 0, field: "body", message: "must be a JSON array of event objects")])
    }

    @Test func ga4AliasesMapToCanonicalTypes() async throws {
        let fixture = try Fixture()
        let names = EventTypeNames.ga4Aliases.map(\.ga4) + ["search", "add_to_cart", "remove_from_cart", "purchase"]
        let lines = names.enumerated().map { eventLine(id: "g\($0.offset)", type: $0.element) }
        _ = try await fixture.service().ingestBatch(body(lines), format: .ndjson, actor: "t")
        let stored = try await fixture.store.events(for: fixture.pid("alice@example.com"))
        let types = Dictionary(uniqueKeysWithValues: stored.map { ($0.eventID, $0.type) })
        #expect(types["g0"] == .view)  // view_item
        #expect(types["g1"] == .view)  // view_item_list
        #expect(types["g2"] == .search)  // view_search_results
        #expect(types["g3"] == .click)  // select_item
        #expect(types["g4"] == .click)  // select_promotion
        #expect(types["g5"] == .checkout)  // begin_checkout
        #expect(types["g6"] == .return)  // refund
        #expect(types["g7"] == .search)
        #expect(types["g10"] == .purchase)
    }

    @Test func futureSkewFollowsThePolicy() async throws {
        let fixture = try Fixture()
        var policy = Policy()
        policy.ingest.maxFutureSkewSeconds = 3600
        let line = eventLine(timestamp: "2026-11-23T12:59:59Z")
        #expect(try await fixture.service(policy).ingestBatch(Data(line.utf8), format: .ndjson, actor: "t").accepted == 1)
        policy.ingest.maxFutureSkewSeconds = 0
        let error = await #expect(throws: BatchRejected.self) {
            _ = try await fixture.service(policy).ingestBatch(
                Data(eventLine(id: "e2", timestamp: "2026-11-23T12:00:00.001Z").utf8), format: .ndjson, actor: "t")
        }
        #expect(error?.problems.first?.message == "must not be more than 0 seconds in the future (policy ingest.max_future_skew_seconds)")
        // Exactly now is fine.
        _ = try await fixture.service(policy).ingestBatch(
            Data(eventLine(id: "e3", timestamp: "2026-11-23T12:00:00Z").utf8), format: .ndjson, actor: "t")
    }

    @Test func batchLimitIsTooLarge() async throws {
        let fixture = try Fixture()
        var policy = Policy()
        policy.ingest.maxBatchEvents = 2
        let lines = (0..<3).map { eventLine(id: "e\($0)") }
        await #expect(throws: VeilError.self) {
            _ = try await fixture.service(policy).ingestBatch(body(lines), format: .ndjson, actor: "t")
        }
        do {
            _ = try await fixture.service(policy).ingestBatch(body(lines), format: .ndjson, actor: "t")
        } catch let error as VeilError {
            #expect(error.code == .tooLarge)
            #expect(error.message == "holds more than 2 events (policy ingest.max_batch_events); split the batch")
        }
        policy.ingest.maxBodyBytes = 10
        do {
            _ = try await fixture.service(policy).ingestBatch(body(lines), format: .ndjson, actor: "t")
            Issue.record("expected tooLarge")
        } catch let error as VeilError {
            #expect(error.code == .tooLarge)
        }
        #expect(try await fixture.store.eventCount() == 0)
    }
}

@Suite struct TimestampTests {
    @Test func rfc3339() {
        #expect(RFC3339.parseMillis("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.parseMillis("1969-12-31T23:59:59.5Z") == -500)
        #expect(RFC3339.parseMillis("2024-02-29T00:00:00+00:00") == 1_709_164_800_000)
        #expect(RFC3339.parseMillis("2023-02-29T00:00:00Z") == nil)
        #expect(RFC3339.parseMillis("2024-01-01T00:00:00.Z") == nil)
        #expect(RFC3339.parseMillis("2024-01-01T24:00:00Z") == nil)
        #expect(RFC3339.parseMillis("2024-01-01T00:00:00+0100") == nil)
        #expect(RFC3339.parseMillis("2024-01-01") == nil)
    }

    @Test func customFormats() throws {
        let strftime = try TimestampFormat("%Y-%m-%d")
        #expect(strftime.parse("1997-01-01") == 852_076_800_000)
        #expect(strftime.parse("1997-1-1") == 852_076_800_000)
        #expect(strftime.parse("1997-13-01") == nil)
        #expect(try TimestampFormat("%Y%m%d").parse("19970101") == 852_076_800_000)
        #expect(try TimestampFormat("yyyy-MM-dd HH:mm:ss").parse("1997-01-01 01:02:03") == 852_080_523_000)
        #expect(try TimestampFormat("dd/MM/yyyy'T'HH:mm:ss.SSS").parse("01/01/1997T00:00:00.250") == 852_076_800_250)
        #expect(throws: MappingRuleError.self) { try TimestampFormat("%Y-%j") }
        #expect(throws: MappingRuleError.self) { try TimestampFormat("HH:mm") }
    }
}
