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
        let installation = try VeilInstallation.onPostgres(cluster, policy: DataDirectoryFaultTests.smallBudget)
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

    /// Batch `index` of `size` events, ids `rep-<n>`. The gateway requires an `event_id` (content-derived
    /// keys are for imports only), and the id is what makes a resend to another replica a duplicate.
    static func replicaBatch(_ index: Int, size: Int, users: [String]) -> Data {
        var text = ""
        for i in 0..<size {
            let n = index * size + i
            let second = String(format: "%02d:%02d", n / 60 % 60, n % 60)
            text += #"{"event_id":"rep-\#(n)","user_id":"\#(users[n % users.count])","type":"view","timestamp":"2026-01-05T10:\#(second)Z","item_id":"sku-\#(n)"}"#
            text += "\n"
        }
        return Data(text.utf8)
    }

    /// Four senders through three `veil serve` replicas on one database; once 12 batches are
    /// acknowledged one replica is `kill -9`ed. A sender whose batch gets no answer (the killed replica:
    /// reset mid-request or refused) resends it to the next replica until one acknowledges it. Then:
    /// every batch is acknowledged, each acknowledgement is all of the batch or none of it (accepted +
    /// duplicates = size), the database holds every event exactly once (as many rows as distinct ids
    /// as events sent), and the chain's `ingest.batch` records account for exactly the events stored
    /// (a batch the killed replica committed but never acknowledged has its record; its resend stored
    /// nothing). Each replica's mirror, the killed one's included, verifies against the chain.
    @Test func fourSendersThroughThreeReplicasStoreEveryEventOnceWhenOneIsKilled() throws {
        let cluster = try PostgresTestCluster()
        defer { cluster.stop() }
        let installation = try VeilInstallation.onPostgres(cluster)
        let token = try installation.token("ingest")
        let users = (0..<200).map { _ in "raw-user-\(UUID().uuidString)" }
        let (batchCount, size) = (60, 250)
        let batches = (0..<batchCount).map { Self.replicaBatch($0, size: size, users: users) }
        let dataDirectories = (1...3).map { installation.root.appendingPathComponent("data-\($0)") }
        let replicas = try dataDirectories.enumerated().map { index, directory in
            try ServerProcess(
                [], in: installation.root, stderrFile: installation.root.appendingPathComponent("serve-\(index + 1).log"),
                environment: installation.environment.merging(["VEIL_DATA_DIR": directory.path]) { _, new in new })
        }
        let urls = replicas.map { $0.baseURL + "/v1/events" }

        let tally = ReplicaTally()
        let senders = IngestDurabilityCLITests.senders(4, batches: batchCount) { index in
            // Batch i goes to replica i % 3 first, then to the next one, until one answers.
            for attempt in 0..<(3 * urls.count) {
                let replica = (index + attempt) % urls.count
                let response = try? CurlClient.send(
                    "POST", urls[replica], token: token, contentType: "application/x-ndjson", body: batches[index])
                if let response, let summary = IngestDurabilityCLITests.summary(response) {
                    tally.acknowledge(index, summary)
                    return
                }
                tally.resend(index, status: response?.status ?? 0)
            }
        }
        while tally.acknowledgedCount < 12 { usleep(2_000) }
        replicas[0].kill9()
        senders.wait()
        let outcome = tally.snapshot
        print("postgres replicas: \(batchCount) batches through 3 replicas, replica 1 killed; \(outcome.resends.count) resends")
        #expect(!outcome.resends.isEmpty, "no batch was resent: the kill came after the senders had finished with replica 1")
        #expect(Set(outcome.resends.map(\.status)).isSubset(of: [0]), "a live replica refused a batch: \(outcome.resends)")
        #expect(outcome.acknowledged.count == batchCount, "acknowledged \(outcome.acknowledged.count) of \(batchCount) batches")
        for (index, summary) in outcome.acknowledged {
            #expect(summary.accepted + summary.duplicates == size && (summary.accepted == 0 || summary.accepted == size),
                "batch \(index): \(summary.accepted) accepted, \(summary.duplicates) duplicates")
        }
        for replica in replicas.dropFirst() { #expect(replica.stop() == 0, "\(replica.stderr)") }

        let counts = try cluster.psql("SELECT count(*), count(DISTINCT event_id) FROM events")
        #expect(counts.trimmingCharacters(in: .whitespacesAndNewlines) == "\(batchCount * size)|\(batchCount * size)", "rows | distinct ids: \(counts)")
        let sent = (0..<(batchCount * size)).map { "rep-\($0)" }
        let stored = Set(try cluster.psql("SELECT event_id FROM events").split(separator: "\n").map(String.init))
        let problems = CrashInvariants.problems(in: installation, acknowledgedEvents: sent, storedEventIDs: stored)
        #expect(problems.isEmpty, "\(problems.count) problems, the first: \(problems.prefix(3))")
        for directory in dataDirectories {
            let verify = try VeilProcess.run(
                ["audit", "verify", "--json", "--data-dir", directory.path], in: installation.root, environment: installation.environment)
            #expect(verify.status == 0, "\(directory.lastPathComponent): \(verify.stdout) \(verify.stderr)")
        }
    }

    /// `kill -9` of `veil ingest --batch-size 500 --write-connections 3` on PostgreSQL (issue 18: all or
    /// nothing per documented unit), twice, each on a database of its own: once as soon as the first
    /// transaction has committed (others are open on the other connections then), once 300 ms after
    /// that. After each kill the database holds whole transactions only (each a multiple of 500 events,
    /// the file's last one excepted), the chain verifies and its `ingest.batch` records account for
    /// exactly the events stored; the same import run again stores exactly the rest, every event of the
    /// file is then stored once, and the chain still accounts for every one.
    @Test func killingAnImportInUnitsOverThreeConnectionsThenImportingAgainStoresEveryEventOnce() throws {
        let cluster = try PostgresTestCluster()
        defer { cluster.stop() }
        let prepared = try VeilInstallation()
        let generated = try prepared.run(["generate", "--users", "400", "--days", "60", "--seed", "5"])
        try #require(generated.status == 0, "\(generated.stderr)")
        let total = generated.stdout.split(separator: "\n").count
        let batch = 500
        try #require(total > 12 * batch, "\(total) events: too few transactions for three connections")
        let ingest = ["ingest", "--batch-size", "\(batch)", "--write-connections", "3"]

        var failures: [String] = []
        for (kill, delay) in [0, 300].enumerated() {
            try cluster.psql("CREATE DATABASE kill\(kill)")
            let url = cluster.url.replacingOccurrences(of: "/postgres?", with: "/kill\(kill)?")
            try #require(url != cluster.url, "the cluster's URL names the database postgres: \(cluster.url)")
            let migrated = try VeilProcess.run(["db", "migrate", "--database-url", url])
            try #require(migrated.status == 0, "\(migrated.stderr)")
            let installation = try VeilInstallation(environment: ["VEIL_DATABASE_URL": url])
            let file = try installation.file("events.ndjson", Data(generated.stdout.utf8)).path
            let database = "kill\(kill)"
            func count(_ sql: String) throws -> Int {
                Int(try cluster.psql(sql, database: database).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            }

            let command = try installation.start(ingest + [file])
            while command.process.isRunning, try count("SELECT count(*) FROM events") == 0 { usleep(2_000) }
            usleep(UInt32(delay * 1_000))
            let killedRunning = command.kill9()
            var problems = killedRunning ? [] : ["the import had finished before the kill: \(command.stderr)"]
            let stored = try count("SELECT count(*) FROM events")
            if stored % batch != 0 && (stored - total % batch) % batch != 0 {
                problems.append("\(stored) events stored: not whole transactions of \(batch)")
            }
            let ids = { Set(try cluster.psql("SELECT event_id FROM events", database: database).split(separator: "\n").map(String.init)) }
            problems += CrashInvariants.problems(in: installation, storedEventIDs: try ids())

            let again = try installation.json(ingest + [file]) as? [String: Any]
            let accepted = again?["accepted"] as? Int
            let duplicates = again?["duplicates"] as? Int
            if accepted != total - stored || duplicates != stored {
                problems.append(
                    "the import run again accepted \(accepted ?? -1) and found \(duplicates ?? -1) duplicates after \(stored) of \(total) were stored")
            }
            let after = try cluster.psql("SELECT count(*), count(DISTINCT event_id) FROM events", database: database)
            if after.trimmingCharacters(in: .whitespacesAndNewlines) != "\(total)|\(total)" {
                problems.append("after the import ran again, rows | distinct ids: \(after), of \(total) events")
            }
            problems += CrashInvariants.problems(in: installation, storedEventIDs: try ids())
            print("fault: veil ingest in units on PostgreSQL, kill \(kill + 1) (\(delay) ms after the first commit): \(stored) of \(total) events stored")
            if !problems.isEmpty { failures.append("kill \(kill + 1): \(problems.joined(separator: "; "))") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// `veil ingest` (COPY) into PostgreSQL, then a plain-text `pg_dump` of the whole database: the raw
    /// user and session IDs sent appear nowhere in it (events, vault, event ids, the audit chain), while
    /// the events are there.
    @Test func aDumpOfTheDatabaseHoldsNoRawID() throws {
        let pgDump = try #require(PostgresTestCluster.tool("pg_dump"), "pg_dump is installed beside initdb")
        let cluster = try PostgresTestCluster()
        defer { cluster.stop() }
        let installation = try VeilInstallation.onPostgres(cluster)
        let users = (0..<50).map { _ in "raw-user-\(UUID().uuidString)" }
        let sessions = (0..<50).map { _ in "raw-session-\(UUID().uuidString)" }
        let file = try installation.file("events.ndjson", IngestDurabilityCLITests.batch(0, size: 500, users: users, sessions: sessions))
        let ingested = try installation.run(["ingest", file.path])
        try #require(ingested.status == 0, "\(ingested.stderr)")

        let dump = try VeilProcess.runProgram(pgDump, try cluster.clientArguments)
        try #require(dump.status == 0, "\(dump.stderr)")
        #expect(dump.stdout.contains("evt-499"), "the dump holds the events (their event ids)")
        let leaked = (users + sessions).filter { dump.stdout.contains($0) }
        #expect(leaked.isEmpty, "\(leaked.count) raw IDs appear in pg_dump's output")
    }
}

/// What the senders of `fourSendersThroughThreeReplicasStoreEveryEventOnceWhenOneIsKilled` saw, behind a
/// lock: each batch's acknowledgement (accepted, duplicates) and every attempt that got none.
final class ReplicaTally: @unchecked Sendable {
    private let lock = NSLock()
    private var acknowledged: [Int: (accepted: Int, duplicates: Int)] = [:]
    private var resends: [(batch: Int, status: Int)] = []

    func acknowledge(_ index: Int, _ summary: (accepted: Int, duplicates: Int)) { lock.withLock { acknowledged[index] = summary } }
    func resend(_ index: Int, status: Int) { lock.withLock { resends.append((index, status)) } }
    var acknowledgedCount: Int { lock.withLock { acknowledged.count } }
    var snapshot: (acknowledged: [Int: (accepted: Int, duplicates: Int)], resends: [(batch: Int, status: Int)]) {
        lock.withLock { (acknowledged, resends) }
    }
}
