import Foundation
import Testing
import VeilTestSupport

/// `veil db migrate|status` and `--database-url` on the real binary, against SQLite and a throwaway
/// PostgreSQL cluster.
@Suite struct DatabaseCLITests {
    @Test(.enabled(if: PostgresTestCluster.unavailableReason == nil, "PostgreSQL is not installed"))
    func migrateAndStatusOnPostgreSQL() throws {
        let cluster = try PostgresTestCluster()
        defer { cluster.stop() }
        let url = ["--database-url", cluster.url]

        let before = try VeilProcess.run(["db", "status"] + url)
        #expect(before.status == 1)
        #expect(before.stdout.contains("no Veil schema") && before.stdout.contains("veil db migrate"), "\(before.stdout)")

        let first = try VeilProcess.run(["db", "migrate", "--json"] + url)
        #expect(first.status == 0, "\(first.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any]
        #expect(report?["backend"] as? String == "postgresql")
        #expect((report?["applied"] as? [Int])?.isEmpty == false)

        let again = try VeilProcess.run(["db", "migrate"], environment: ["VEIL_DATABASE_URL": cluster.url])
        #expect(again.status == 0 && again.stdout.contains("is up to date"), "\(again.stdout) \(again.stderr)")

        let after = try VeilProcess.run(["db", "status"] + url)
        #expect(after.status == 0, "\(after.stdout) \(after.stderr)")
    }

    @Test func aPasswordNeverReachesOutputAndAnUnreachableServerIsNamed() throws {
        // `veil db` and every command that opens the store (here `veil budget`) name the server.
        let data = try VeilProcess.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: data) }
        // Port 1 on loopback: nothing listens there.
        let secretURL = "postgresql://veil:pa55-hunter2@127.0.0.1:1/veil?sslmode=disable&connect_timeout=3"
        let migrate = try VeilProcess.run(["db", "migrate", "--data-dir", data.path], environment: ["VEIL_DATABASE_URL": secretURL])
        #expect(migrate.status != 0)
        #expect(migrate.stderr.contains("127.0.0.1:1") && migrate.stderr.contains("refused"), "\(migrate.stderr)")

        let keys = try VeilProcess.run(["keys", "init", "--dir", data.path + "/keys", "--data-dir", data.path + "/local"])
        try #require(keys.status == 0, "\(keys.stderr)")
        let budget = try VeilProcess.run(["budget", "--keys", data.path + "/keys", "--data-dir", data.path, "--database-url", secretURL])
        #expect(budget.status != 0)
        #expect(budget.stderr.contains("127.0.0.1:1") && budget.stderr.contains("refused"), "every command names the server: \(budget.stderr)")

        let badParameter = try VeilProcess.run(["db", "status", "--database-url", "postgresql://veil:pa55-hunter2@db/veil?passwd=x"])
        #expect(badParameter.status != 0)
        #expect(badParameter.stderr.contains("database_url") && badParameter.stderr.contains("'passwd'"), "\(badParameter.stderr)")

        let help = try VeilProcess.run(["db", "migrate", "--help"], environment: ["VEIL_DATABASE_URL": secretURL])
        #expect(help.stdout.contains("--database-url"))
        for output in [migrate, budget, badParameter, help] {
            #expect(!(output.stdout + output.stderr).contains("hunter2"))
        }
    }

    @Test func migrateAndStatusOnSQLite() throws {
        let data = try VeilProcess.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: data) }
        let missing = try VeilProcess.run(["db", "status", "--data-dir", data.path + "/veil-data"])
        #expect(missing.status == 1 && missing.stdout.contains("no Veil schema"), "\(missing.stdout)")
        #expect(!FileManager.default.fileExists(atPath: data.path + "/veil-data/veil.sqlite"), "status creates nothing")
        let migrate = try VeilProcess.run(["db", "migrate", "--data-dir", data.path + "/veil-data", "--database-url", "sqlite:"])
        #expect(migrate.status == 0 && migrate.stdout.contains("applied migrations"), "\(migrate.stdout) \(migrate.stderr)")
        let status = try VeilProcess.run(["db", "status", "--data-dir", data.path + "/veil-data", "--json"])
        #expect(status.status == 0, "\(status.stdout)")
    }
}
