import Foundation
import Testing
import VeilTestSupport

/// Several `veil serve` replicas on one PostgreSQL database (issue 13): one ledger and one audit chain
/// across processes, on the real binaries and a throwaway cluster. Skipped, saying why, only where
/// PostgreSQL is not installed.
@Suite(.serialized, .enabled(if: PostgresTestCluster.unavailableReason == nil, Comment(rawValue: PostgresTestCluster.unavailableReason ?? "")))
struct PostgresReplicaTests {
    /// `POST /v1/queries` at ε = 0.02: 150 of them compose (RDP) to more than the cap of 1.
    static let query = HTTPLoad.Request(path: "/v1/queries", body: Data(#"{"metric":"count_events","epsilon":0.02}"#.utf8))

    /// Three replicas, each with its own data directory (its `audit.log` mirror) and the same keys,
    /// policy and database; 150 spends through all three at once (5 clients each). The cap holds
    /// across replicas, every acknowledged spend is in the ledger with its `budget.spend` record, the
    /// chain verifies with ε replayed (seq 1, 2, 3, … : no two records share one), and each replica's
    /// mirror agrees with the chain.
    @Test func threeReplicasSpendingAtOnceNeverPassTheCapAndShareOneChain() throws {
        let cluster = try PostgresTestCluster()
        defer { cluster.stop() }
        let migrated = try VeilProcess.run(["db", "migrate", "--database-url", cluster.url])
        try #require(migrated.status == 0, "\(migrated.stderr)")
        let installation = try VeilInstallation(
            policy: DataDirectoryFaultTests.smallBudget, environment: ["VEIL_DATABASE_URL": cluster.url])
        let token = try installation.token("analyst")
        let replicas = try (1...3).map { index in
            try ServerProcess(
                [], in: installation.root, stderrFile: installation.root.appendingPathComponent("serve-\(index).log"),
                environment: installation.environment.merging(["VEIL_DATA_DIR": installation.root.appendingPathComponent("data-\(index)").path]) {
                    _, new in new
                })
        }
        let loads = replicas.map { replica in
            HTTPLoad(baseURL: replica.baseURL, token: token, clients: 5, limit: 50) { _ in Self.query }
        }
        loads.forEach { $0.finish() }
        for replica in replicas { #expect(replica.stop() == 0, "\(replica.stderr)") }

        let accepted = loads.flatMap { $0.answered(200).values.compactMap(spendID) }
        let statuses = loads.flatMap { $0.statuses.values }
        print("postgres replicas: 3 replicas, \(statuses.count) spends sent, \(accepted.count) accepted, \(statuses.filter { $0 != 200 }.count) refused")
        #expect(statuses.count == 150)
        #expect(Set(statuses).isSubset(of: [200, 403]), "only accepted or refused for the budget: \(Set(statuses))")
        #expect(accepted.count > 10 && accepted.count < 150, "the cap binds: \(accepted.count) of 150 accepted")
        #expect(Set(accepted).count == accepted.count, "no spend id answered twice")

        let budget = try installation.json(["budget"]) as? [String: Any]
        let spends = budget?["spends"] as? [[String: Any]] ?? []
        #expect(spends.count == accepted.count)
        let cumulative = spends.compactMap { $0["cumulative_epsilon"] as? Double }
        #expect(cumulative.max() ?? 2 <= 1.0 + 1e-9, "spent \(cumulative.max() ?? .nan) of a cap of 1")
        let composedInOrder = cumulative == cumulative.sorted()
        #expect(composedInOrder, "each spend must compose after every earlier one, whichever replica took it")

        // The ledger, the chain and the acknowledged spends tell one story (the crash contract's checks).
        let problems = CrashInvariants.problems(in: installation, acknowledgedSpends: accepted)
        #expect(problems.isEmpty, "\(problems.count) problems, the first: \(problems.prefix(3))")
        // Every replica's mirror agrees with the chain.
        for index in 1...3 {
            let verify = try VeilProcess.run(
                ["audit", "verify", "--json", "--data-dir", installation.root.appendingPathComponent("data-\(index)").path],
                in: installation.root, environment: installation.environment)
            #expect(verify.status == 0, "replica \(index): \(verify.stdout) \(verify.stderr)")
        }
    }

    /// `veil ingest` (COPY) into PostgreSQL, then a plain-text `pg_dump` of the whole database: the raw
    /// user and session IDs sent appear nowhere in it (events, vault, event ids, the audit chain), while
    /// the events are there.
    @Test func aDumpOfTheDatabaseHoldsNoRawID() throws {
        let pgDump = try #require(PostgresTestCluster.tool("pg_dump"), "pg_dump is installed beside initdb")
        let cluster = try PostgresTestCluster()
        defer { cluster.stop() }
        let migrated = try VeilProcess.run(["db", "migrate", "--database-url", cluster.url])
        try #require(migrated.status == 0, "\(migrated.stderr)")
        let installation = try VeilInstallation(environment: ["VEIL_DATABASE_URL": cluster.url])
        let users = (0..<50).map { _ in "raw-user-\(UUID().uuidString)" }
        let sessions = (0..<50).map { _ in "raw-session-\(UUID().uuidString)" }
        let file = try installation.file("events.ndjson", IngestDurabilityCLITests.batch(0, size: 500, users: users, sessions: sessions))
        let ingested = try installation.run(["ingest", file.path])
        try #require(ingested.status == 0, "\(ingested.stderr)")

        // The cluster's socket lives in its folder; `port` names the socket file (.s.PGSQL.<port>).
        let port = try String(contentsOfFile: cluster.directory + "/port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let dump = try VeilProcess.runProgram(
            pgDump, ["--host", cluster.directory, "--port", port, "--username", "veil", "--dbname", "postgres"])
        try #require(dump.status == 0, "\(dump.stderr)")
        #expect(dump.stdout.contains("evt-499"), "the dump holds the events (their event ids)")
        let leaked = (users + sessions).filter { dump.stdout.contains($0) }
        #expect(leaked.isEmpty, "\(leaked.count) raw IDs appear in pg_dump's output")
    }
}
