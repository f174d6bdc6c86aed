import Foundation
import Testing
import VeilCore
import VeilStore

@testable import VeilIngest

/// Free-form properties: kept only where the policy lists the key and its bounds, dropped and counted
/// otherwise, never echoed.
@Suite struct PropertiesTests {
    static func policy() -> Policy {
        var policy = Policy()
        policy.properties = [
            "quantity": PropertyRule(type: .int, min: 0, max: 100), "weight_kg": PropertyRule(type: .number, min: 0, max: 50),
        ]
        return policy
    }

    @Test func onlyListedKeysWithinTheirBoundsAreKeptAndTheRestIsCounted() async throws {
        let fixture = try Fixture()
        let lines = [
            eventLine(id: "a", extra: #""properties":{"quantity":3,"weight_kg":2.5,"coupon":"SECRET-CODE","note":{"x":1}}"#),
            eventLine(id: "b", extra: #""properties":{"quantity":101,"weight_kg":-1,"alice@example.com":1}"#),
            eventLine(id: "c", extra: #""properties":{"quantity":2.5,"quantity":7}"#),
            eventLine(id: "d", extra: #""properties":{}"#),
            eventLine(id: "e"),
        ]
        let summary = try await fixture.service(Self.policy()).ingestBatch(body(lines), format: .ndjson, actor: "t")
        #expect(summary == IngestSummary(accepted: 5, duplicates: 0, propertiesDropped: 7))
        let stored = try await fixture.store.events(for: fixture.pid("alice@example.com"))
        let byID = Dictionary(uniqueKeysWithValues: stored.map { ($0.eventID, $0.properties) })
        #expect(byID == ["a": ["quantity": 3, "weight_kg": 2.5], "b": [:], "c": [:], "d": [:], "e": [:]])
        // With no property in the policy (the default), every property is dropped and counted.
        let plain = try await fixture.service().ingestBatch(
            body([eventLine(id: "f", extra: #""properties":{"quantity":3}"#)]), format: .ndjson, actor: "t")
        #expect(plain.propertiesDropped == 1)
        #expect(try await fixture.store.events(for: fixture.pid("alice@example.com")).first { $0.eventID == "f" }?.properties == [:])
    }

    @Test func propertiesThatAreNotAnObjectAreRefusedWithoutEchoingAnything() async throws {
        let fixture = try Fixture()
        for value in [#""SECRET-CODE""#, "[1,2]", "5"] {
            do {
                _ = try await fixture.service(Self.policy()).ingestBatch(
                    body([eventLine(id: "x", extra: #""properties":\#(value)"#)]), format: .ndjson, actor: "t")
                Issue.record("properties \(value) must be refused")
            } catch let rejected as BatchRejected {
                #expect(rejected.problems == [EventProblem(index: 0, field: "properties", message: "must be a JSON object of numbers")])
            }
        }
        do {
            _ = try await fixture.service(Self.policy()).ingestBatch(
                body([eventLine(id: "x", extra: #""properties":{},"properties":{}"#)]), format: .ndjson, actor: "t")
            Issue.record("a repeated properties member must be refused")
        } catch let rejected as BatchRejected {
            #expect(rejected.problems.map(\.message) == ["appears more than once"])
        }
        #expect(try await fixture.store.eventCount() == 0)
    }

    @Test func theStoredTextIsCanonicalJSONThatReadsBack() {
        let properties: [String: Double] = ["b": 2, "a": 0.25, "big": 1e300, "neg": -3]
        let text = EventProperties.text(properties)
        #expect(text == #"{"a":0.25,"b":2,"big":1e+300,"neg":-3}"#)
        #expect(EventProperties.parse(text!) == properties)
        #expect(EventProperties.text([:]) == nil)
        #expect(EventProperties.parse(#"{"a":"x"}"#) == nil && EventProperties.parse("[1]") == nil)
    }
}

@Suite struct MappedPropertiesTests {
    /// A mapping file's `properties:` computes a property per row; the policy still decides what stays.
    @Test func aMappingComputesPropertiesFromColumnsAndThePolicyDecidesWhatIsKept() async throws {
        let fixture = try Fixture()
        fixture.policy = PropertiesTests.policy()
        let path = try fixture.file(
            "orders.csv",
            "customer,ts,lines,coupon\nc-1,2026-11-20T10:00:00Z,3,XYZ-1\nc-2,2026-11-21T10:00:00Z,200,\nc-3,2026-11-21T11:00:00Z,,\n")
        var options = ImportOptions()
        options.mapping = try mapping(
            """
            fields:
              user_id: customer
              timestamp: ts
            constants:
              type: purchase
            properties:
              quantity: lines
              coupon_code: coupon
            """)
        let report = try await EventImporter(service: fixture.service(), options: options).importFile(path, actor: "cli")
        #expect(report.accepted == 3 && report.rejected == 0)
        // c-1: coupon_code is not in the policy; c-2: 200 is past quantity's max; c-3: nothing given.
        #expect(report.propertiesDropped == 2)
        #expect(report.ignoredColumns.isEmpty)
        #expect(try await fixture.store.events(for: fixture.pid("c-1")).map(\.properties) == [["quantity": 3]])
        #expect(try await fixture.store.events(for: fixture.pid("c-2")).map(\.properties) == [[:]])
        #expect(try await fixture.store.events(for: fixture.pid("c-3")).map(\.properties) == [[:]])
        let text = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!text.contains("XYZ-1"))
    }

    @Test func aPropertyKeyAndItsColumnsAreChecked() throws {
        #expect(throws: MappingFileRejected.self) { try mapping("properties:\n  \"bad key!\": lines\n") }
        #expect(throws: MappingFileRejected.self) { try mapping("columns: [a, b]\nfields:\n  user_id: a\nproperties:\n  q: c\n") }
        var flags = ImportMapping()
        try flags.map("properties.quantity", to: "lines * 2", origin: "--map")
        #expect(flags.properties["quantity"]?.columns == ["lines"])
    }
}
