import Foundation
import GRDB
import Testing

/// Interaction-only exports (a rating or review log with user, item and time columns and nothing else),
/// imported by the real `veil` binary with `--default-type`; the fixture `Tests/Fixtures/interactions.csv`
/// holds made-up IDs only.
@Suite struct InteractionImportCLITests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/interactions.csv")
    static let rawUsers = ["shopper-a17", "shopper-b42", "shopper-c09", "shopper-d61"]
    static let mapping = ["--format", "csv", "--map", "user_id=user,item_id=item,timestamp=ts"]

    @Test func importsUserItemTimeColumnsAsViews() throws {
        let installation = try VeilInstallation()
        let imported = try installation.run(["ingest", Self.fixture.path] + Self.mapping + ["--default-type", "view", "--json"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(imported.stdout.utf8)) as? [String: Any])
        #expect(report["accepted"] as? Int == 12 && report["rejected"] as? Int == 0)
        let file = try #require((report["files"] as? [[String: Any]])?.first)
        #expect(file["ignored_columns"] as? [String] == [])

        // The stored rows, read with SQLite itself.
        let rows = try #require(try DataDirectoryReport.read(installation.databaseFile) { db in
            try Row.fetchAll(db, sql: "SELECT event_id, pid, type, item_id, category, price, session_pid FROM events")
        })
        #expect(rows.count == 12)
        #expect(rows.allSatisfy { row in
            row["type"] as String? == "view" && row["category"] as String? == nil && row["price"] as Double? == nil
                && row["session_pid"] as Data? == nil
        })
        #expect(Set(rows.compactMap { $0["item_id"] as String? })
            == ["sku-1001", "sku-1002", "sku-2040", "sku-3300", "sku-0077", "sku-0078"])
        #expect(Set(rows.compactMap { $0["pid"] as Data? }).count == 4)
        #expect(rows.allSatisfy { ($0["event_id"] as String?)?.hasPrefix("auto:") == true },
            "event IDs are derived from the content")

        // Importing again adds nothing; the old spelling --type means the same (and keys the same events).
        let again = try installation.run(["ingest", Self.fixture.path] + Self.mapping + ["--type", "view", "--json"])
        let second = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(again.status == 0 && second["accepted"] as? Int == 0 && second["duplicates"] as? Int == 12)

        // No raw user ID in what was printed or in any file of the data directory.
        let printed = imported.stdout + imported.stderr + again.stdout + again.stderr
        var stored = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: installation.dataDirectory.path) {
            stored += (try? Data(contentsOf: installation.dataDirectory.appendingPathComponent(name))) ?? Data()
        }
        for user in Self.rawUsers {
            #expect(!printed.contains(user))
            #expect(stored.range(of: Data(user.utf8)) == nil, "\(user) is stored in the clear")
        }
    }

    /// Without a type column or --default-type every record lacks its type: the file is refused whole,
    /// the rule reported once with its count, first lines and a hint at --default-type, no cell echoed.
    @Test func withoutADefaultTypeTheFileIsRefusedWithoutEchoingIt() throws {
        let installation = try VeilInstallation()
        let refused = try installation.run(["ingest", Self.fixture.path] + Self.mapping)
        #expect(refused.status != 0)
        #expect(refused.stdout.contains("type is required — 12 lines (first: 2, 3, 4)"), "\(refused.stdout)")
        #expect(refused.stdout.contains("hint: ") && refused.stdout.contains("--default-type view"), "\(refused.stdout)")
        #expect(refused.stdout.contains("nothing of this file was stored"))
        let printed = refused.stdout + refused.stderr
        for user in Self.rawUsers { #expect(!printed.contains(user)) }
        #expect(!printed.contains("sku-1001") && !printed.contains("2026-03-01"))
        #expect(try installation.rowCount("events") == 0)

        let unknown = try installation.run(["ingest", Self.fixture.path] + Self.mapping + ["--default-type", "rating"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--default-type: is not an event type"), "\(unknown.stderr)")
    }
}
