import Foundation
import Testing

/// `veil stats` and `GET /v1/stats` on the real binary: exact counts per UTC day and type, labelled as
/// not differentially private, audited on every read, admin only over HTTP, no raw ID anywhere.
@Suite struct StatsCLITests {
    /// 3 days × users × types: day d has users 0…(4 + d) viewing twice and every even user buying once.
    static func events() -> (ndjson: String, days: [String: (events: Int, users: Int, views: Int, purchases: Int, buyers: Int)]) {
        var lines: [String] = []
        var days: [String: (events: Int, users: Int, views: Int, purchases: Int, buyers: Int)] = [:]
        for day in 0..<3 {
            let date = "2026-11-0\(day + 1)"
            let users = 5 + day
            let buyers = (0..<users).filter { $0 % 2 == 0 }.count
            for user in 0..<users {
                for view in 0..<2 {
                    lines.append(
                        #"{"event_id":"v-\#(day)-\#(user)-\#(view)","user_id":"stats-user-\#(user)@example.com","type":"view","timestamp":"\#(date)T1\#(view):00:00Z"}"#)
                }
                if user % 2 == 0 {
                    lines.append(
                        #"{"event_id":"p-\#(day)-\#(user)","user_id":"stats-user-\#(user)@example.com","type":"purchase","timestamp":"\#(date)T20:00:00Z","price":10,"quantity":1}"#)
                }
            }
            days[date] = (2 * users + buyers, users, 2 * users, buyers, buyers)
        }
        return (lines.joined(separator: "\n") + "\n", days)
    }

    @Test func statsPrintsExactCountsLabelledAndAuditsEachRead() throws {
        let installation = try VeilInstallation()
        let (ndjson, days) = Self.events()
        let file = try installation.file("events.ndjson", Data(ndjson.utf8))
        let ingest = try installation.run(["ingest", file.path])
        #expect(ingest.status == 0, "\(ingest.stderr)")

        let report = try #require(try installation.json(["stats"]) as? [String: Any])
        #expect(report["differentially_private"] as? Bool == false)
        #expect(report["events"] as? Int == days.values.map(\.events).reduce(0, +))
        #expect(report["pseudonyms"] as? Int == 7)
        #expect(report["first_event"] as? String == "2026-11-01T10:00:00Z")
        #expect(report["last_event"] as? String == "2026-11-03T20:00:00Z")
        let shown = try #require(report["days"] as? [[String: Any]])
        #expect(shown.map { $0["date"] as? String } == ["2026-11-01", "2026-11-02", "2026-11-03"])
        for day in shown {
            let want = try #require(days[day["date"] as? String ?? ""])
            #expect(day["events"] as? Int == want.events)
            #expect(day["pseudonyms"] as? Int == want.users)
            let types = day["types"] as? [String: [String: Int]]
            #expect(types?["view"] == ["events": want.views, "pseudonyms": want.users])
            #expect(types?["purchase"] == ["events": want.purchases, "pseudonyms": want.buyers])
        }
        // The read is in the signed log (its mirror once the command has closed), actor cli.
        let lastLine = try #require(try String(contentsOf: installation.auditLogFile, encoding: .utf8).split(separator: "\n").last)
        #expect(lastLine.contains(#"\"action\":\"stats.read\""#) && lastLine.contains(#"\"actor\":\"cli\""#), "\(lastLine)")
        #expect(lastLine.contains(#"\"seq\":\#(report["audit_seq"] as? Int ?? -1),"#), "\(lastLine)")

        let text = try installation.run(["stats"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("operational statistics: exact counts, not differentially private"), "\(text.stdout)")
        #expect(text.stdout.contains("date        type      events  pseudonyms"), "\(text.stdout)")
        #expect(text.stdout.contains("2026-11-03  all           18           7"), "\(text.stdout)")
        #expect(text.stdout.contains("            purchase       4           4"), "\(text.stdout)")
        let help = try installation.run(["stats", "--help"])
        #expect(help.stdout.contains("Example:") && help.stdout.contains("GET /v1/stats"))
        MappedImportCLITests.expectNoRawIDs(["stats-user-"], outputs: [ingest, text], in: installation)
    }

    @Test func theLiveGatewayAnswersAdminsOnly() throws {
        let installation = try VeilInstallation()
        let file = try installation.file("events.ndjson", Data(Self.events().ndjson.utf8))
        #expect(try installation.run(["ingest", file.path]).status == 0)
        let admin = try installation.token("admin")
        let analyst = try installation.token("analyst")
        let server = try installation.serve(log: "serve.log")
        let answer = try CurlClient.send("GET", server.baseURL + "/v1/stats", token: admin)
        let refused = try CurlClient.send("GET", server.baseURL + "/v1/stats", token: analyst)
        let anonymous = try CurlClient.send("GET", server.baseURL + "/v1/stats")
        #expect(server.stop() == 0)
        #expect(answer.status == 200, "\(answer.body)")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        #expect(body["events"] as? Int == 46 && body["differentially_private"] as? Bool == false)
        #expect(refused.status == 403 && refused.body.contains("the admin role"), "\(refused.body)")
        #expect(anonymous.status == 401)
        let log = try String(contentsOf: installation.auditLogFile, encoding: .utf8)
        #expect(log.components(separatedBy: #"\"action\":\"stats.read\""#).count == 2, "one read, one record")
        #expect(!answer.body.contains("stats-user-"))
    }
}
