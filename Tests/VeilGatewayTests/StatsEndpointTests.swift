import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

@Suite struct StatsEndpointTests {
    /// The counts an independent reading of the NDJSON sent gives: per UTC day (the timestamp's date)
    /// and type, events and distinct user IDs, and the same per day over all types.
    static func expectedDays(_ ndjson: String) throws -> [String: (events: Int, users: Set<String>, types: [String: (Int, Set<String>)])] {
        var days: [String: (events: Int, users: Set<String>, types: [String: (Int, Set<String>)])] = [:]
        for line in ndjson.split(separator: "\n") {
            let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let date = String(try #require(event["timestamp"] as? String).prefix(10))
            let user = try #require(event["user_id"] as? String)
            let type = try #require(event["type"] as? String)
            var day = days[date] ?? (0, [], [:])
            day.events += 1
            day.users.insert(user)
            var tally = day.types[type] ?? (0, [])
            tally.0 += 1
            tally.1.insert(user)
            day.types[type] = tally
            days[date] = day
        }
        return days
    }

    @Test func adminGetsExactCountsPerDayAndTypeLabelledAndAudited() async throws {
        let gateway = try await TestGateway.make()
        let sent = ShopperEvents.ndjson(users: 30)
        try await gateway.ingest(sent)
        let expected = try Self.expectedDays(sent)
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/stats", method: .get, headers: gateway.headers(.admin)) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                let body = object(response.body)
                #expect(body["differentially_private"] as? Bool == false)
                #expect((body["notice"] as? String)?.contains("not differentially private") == true)
                #expect(body["events"] as? Int == sent.split(separator: "\n").count)
                #expect(body["pseudonyms"] as? Int == 30)
                #expect((body["database_bytes"] as? Int ?? 0) > 0)
                let days = try #require(body["days"] as? [[String: Any]])
                #expect(days.map { $0["date"] as? String ?? "" } == expected.keys.sorted())
                for day in days {
                    let want = try #require(expected[day["date"] as? String ?? ""])
                    #expect(day["events"] as? Int == want.events)
                    #expect(day["pseudonyms"] as? Int == want.users.count)
                    let types = try #require(day["types"] as? [String: [String: Int]])
                    #expect(Set(types.keys) == Set(want.types.keys))
                    for (type, tally) in want.types {
                        #expect(types[type] == ["events": tally.0, "pseudonyms": tally.1.count], "\(type)")
                    }
                }
                #expect(body["first_event"] as? String == "2026-01-01T01:00:00Z")
                // Pseudonymised counts only: no raw user ID anywhere in the answer.
                for user in 0..<30 { #expect(!text.contains(ShopperEvents.userID(user))) }
                let record = try await gateway.lastAuditRecord()
                #expect(record["action"] as? String == "stats.read")
                #expect(record["actor"] as? String == "test-admin")
                #expect(record["seq"] as? Int == body["audit_seq"] as? Int)
                #expect((record["details"] as? [String: Any])?["days"] as? Int == days.count)
            }
        }
        // Exact numbers for the operator, never a release: nothing is spent.
        #expect(try await gateway.context.budget.status().spends.isEmpty)
    }

    @Test func anEmptyStoreHasNoRangeAndNoDays() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/stats", method: .get, headers: gateway.headers(.admin)) { response in
                #expect(response.status == .ok)
                let body = object(response.body)
                #expect(body["events"] as? Int == 0)
                #expect(body["first_event"] == nil && body["last_event"] == nil)
                #expect((body["days"] as? [Any])?.isEmpty == true)
            }
        }
    }
}
