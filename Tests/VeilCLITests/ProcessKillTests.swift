import Foundation
import Testing

/// crash-contract.md §6, kills: `kill -9` of `veil serve` under spending and under ingest, and of
/// `veil train` just after it starts, on the real binaries. After every kill the data directory must
/// pass `CrashInvariants` (the audit chain verifies with ε replayed, the ledger and the chain tell one
/// story, nothing acknowledged is missing, every stored batch has its record), and must take a new
/// spend (and batch) after a restart and still pass. Each test prints how many kills it ran and how
/// many left a broken directory; kill points come from seeded generators, so a failure repeats.
@Suite(.serialized) struct ProcessKillTests {
    /// `POST /v1/queries`: the cheapest release, ε = 0.01, spent before any event is read.
    static let query = HTTPLoad.Request(path: "/v1/queries", body: Data(#"{"metric":"count_events","epsilon":0.01}"#.utf8))

    /// `kill -9` of `veil serve` while eight clients spend with `POST /v1/queries`, at 10 points drawn
    /// (seed 11) from 0–800 ms after the first acknowledged spend, each on a fresh installation.
    @Test func killingTheServerUnderQueryLoad() throws {
        let points = KillPoint.delays(10, in: 0...800, seed: 11)
        var failures: [String] = []
        var (acknowledged, unanswered) = (0, 0)
        for (kill, point) in points.enumerated() {
            let installation = try VeilInstallation()
            let token = try installation.token("analyst")
            let server = try installation.serve(log: "serve.log")
            let load = HTTPLoad(baseURL: server.baseURL, token: token, clients: 8) { _ in Self.query }
            try #require(load.waitFor(1), "no spend was acknowledged: \(server.stderr)")
            _ = point.wait { true }
            server.kill9()
            load.finish()
            let spends = load.answered(200).values.compactMap(spendID)
            acknowledged += spends.count
            unanswered += load.unansweredCount
            let problems =
                CrashInvariants.problems(in: installation, acknowledgedSpends: spends)
                + Self.problemsAfterRestart(installation, token: token, request: Self.query)
            if !problems.isEmpty { failures.append("kill \(kill + 1) (\(point)): \(problems.joined(separator: "; "))") }
        }
        print(
            "fault: veil serve under query load: \(points.count) kills, \(acknowledged) spends acknowledged, "
                + "\(unanswered) requests unanswered; \(failures.count) of \(points.count) kills left a broken data directory")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// `kill -9` of `veil serve` while four clients send batches of 100 events (group commit), at 6
    /// points drawn (seed 5) from 0–600 ms after the first acknowledged batch, each on a fresh
    /// installation. Every acknowledged event must be stored and every stored batch recorded.
    @Test func killingTheServerUnderHTTPIngest() throws {
        let points = KillPoint.delays(6, in: 0...600, seed: 5)
        let users = (0..<200).map { _ in "raw-user-\(UUID().uuidString)" }
        let sessions = (0..<200).map { _ in "raw-session-\(UUID().uuidString)" }
        let size = 100
        var failures: [String] = []
        var (acknowledged, unanswered) = (0, 0)
        for (kill, point) in points.enumerated() {
            let installation = try VeilInstallation()
            let token = try installation.token("ingest")
            let server = try installation.serve(log: "serve.log")
            let load = HTTPLoad(baseURL: server.baseURL, token: token, clients: 4, limit: 400) { index in
                HTTPLoad.Request(
                    path: "/v1/events", contentType: "application/x-ndjson",
                    body: IngestDurabilityCLITests.batch(index, size: size, users: users, sessions: sessions))
            }
            try #require(load.waitFor(1), "no batch was acknowledged: \(server.stderr)")
            _ = point.wait { true }
            server.kill9()
            load.finish()
            let batches = load.answered(200).keys
            acknowledged += batches.count
            unanswered += load.unansweredCount
            let events = batches.flatMap { index in (0..<size).map { "evt-\(index * size + $0)" } }
            let next = HTTPLoad.Request(
                path: "/v1/events", contentType: "application/x-ndjson",
                body: IngestDurabilityCLITests.batch(10_000, size: size, users: users, sessions: sessions))
            let problems =
                CrashInvariants.problems(in: installation, acknowledgedEvents: events)
                + Self.problemsAfterRestart(installation, token: token, request: next)
                + CrashInvariants.problemsAfterANewSpend(in: installation)
            if !problems.isEmpty { failures.append("kill \(kill + 1) (\(point)): \(problems.joined(separator: "; "))") }
        }
        print(
            "fault: veil serve under HTTP ingest: \(points.count) kills, \(acknowledged) batches of \(size) acknowledged, "
                + "\(unanswered) unanswered; \(failures.count) of \(points.count) kills left a broken data directory")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// `kill -9` of `veil train` at 9 points drawn (seed 23) from 5–300 ms after it starts, and 3
    /// times at the moment its `budget.spend` record reaches `audit.log`, each on a copy of one
    /// installation with 300 shoppers' events.
    @Test func killingTrainingShortlyAfterItStarts() throws {
        let prepared = try VeilInstallation()
        let events = try prepared.run(["generate", "--users", "300", "--days", "60", "--seed", "3"])
        try #require(events.status == 0, "\(events.stderr)")
        let imported = try prepared.run(["ingest", try prepared.file("events.ndjson", Data(events.stdout.utf8)).path])
        try #require(imported.status == 0, "\(imported.stderr)")
        let train = ["train", "--task", "purchase", "--epsilon", "1", "--batch-size", "32", "--epochs", "1", "--seed", "1"]

        let points: [KillPoint?] = KillPoint.delays(9, in: 5...300, seed: 23) + [nil, nil, nil]  // nil: at the spend record
        var failures: [String] = []
        var killedRunning = 0
        for (kill, chosen) in points.enumerated() {
            let installation = try prepared.copy()
            let point = chosen ?? .whenGrows(installation.auditLogFile)
            let command = try installation.start(train)
            let reached = point.wait { command.process.isRunning }
            if command.kill9() { killedRunning += 1 }
            var problems = CrashInvariants.problems(in: installation) + CrashInvariants.problemsAfterANewSpend(in: installation)
            if chosen == nil && !reached { problems.append("the run wrote no audit record: \(command.stderr)") }
            if !problems.isEmpty { failures.append("kill \(kill + 1) (\(point)): \(problems.joined(separator: "; "))") }
        }
        print(
            "fault: veil train: \(points.count) kills (\(killedRunning) while it ran); "
                + "\(failures.count) of \(points.count) kills left a broken data directory")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// `kill -9` of `veil ingest` storing a file in batches (issue 18: a large file is all or nothing
    /// per batch, and importing it again completes it), at 3 points drawn (seed 29) from 50–1,500 ms
    /// after it starts and once when the write-ahead log first grows, each on a copy of one
    /// installation. After each kill the directory passes the crash invariants and holds whole batches
    /// only; the same import run again stores exactly the rest (every stored event a duplicate) and
    /// leaves every event of the file stored once.
    @Test func killingABatchedImportThenImportingAgain() throws {
        let prepared = try VeilInstallation()
        let events = try prepared.run(["generate", "--users", "150", "--days", "60", "--seed", "5"])
        try #require(events.status == 0, "\(events.stderr)")
        let file = try prepared.file("events.ndjson", Data(events.stdout.utf8)).path
        let total = events.stdout.split(separator: "\n").count
        let batch = 500
        try #require(total > 8 * batch)
        let ingest = ["ingest", file, "--one-transaction-limit", "0", "--batch-size", "\(batch)"]

        let points = KillPoint.delays(3, in: 50...1_500, seed: 29).map(Optional.some) + [nil]  // nil: when the WAL grows
        var failures: [String] = []
        var killedRunning = 0
        for (kill, chosen) in points.enumerated() {
            let installation = try prepared.copy()
            let point = chosen ?? .whenGrows(URL(fileURLWithPath: installation.databaseFile.path + "-wal"))
            let command = try installation.start(ingest)
            _ = point.wait { command.process.isRunning }
            if command.kill9() { killedRunning += 1 }
            var problems = CrashInvariants.problems(in: installation)
            let stored = try installation.rowCount("events")
            if stored % batch != 0 && stored != total { problems.append("\(stored) events stored: not whole batches of \(batch)") }
            let again = try installation.json(ingest) as? [String: Any]
            let accepted = again?["accepted"] as? Int
            let duplicates = again?["duplicates"] as? Int
            if accepted != total - stored || duplicates != stored {
                problems.append("the import run again accepted \(accepted ?? -1) and found \(duplicates ?? -1) duplicates after \(stored) of \(total) were stored")
            }
            let after = try installation.rowCount("events")
            if after != total { problems.append("\(after) of \(total) events stored after the import ran again") }
            problems += CrashInvariants.problems(in: installation)
            if !problems.isEmpty { failures.append("kill \(kill + 1) (\(point)): \(problems.joined(separator: "; "))") }
        }
        print(
            "fault: veil ingest in batches: \(points.count) kills (\(killedRunning) while it ran); "
                + "\(failures.count) of \(points.count) kills left a broken data directory or an import that did not complete")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// Restarts `veil serve` after a kill, sends `request` (which must be answered 200), stops the
    /// server, and checks the invariants with what it acknowledged.
    static func problemsAfterRestart(_ installation: VeilInstallation, token: String, request: HTTPLoad.Request) -> [String] {
        do {
            let server = try installation.serve(log: "restarted.log")
            let response = try CurlClient.send(
                request.method, server.baseURL + request.path, token: token, contentType: request.contentType, body: request.body)
            server.stop()
            guard response.status == 200 else {
                return ["after a restart, \(request.path) answered \(response.status): \(response.body)"]
            }
            return CrashInvariants.problems(in: installation, acknowledgedSpends: spendID(of: response).map { [$0] } ?? [])
                .map { "after a restart: \($0)" }
        } catch {
            return ["veil serve did not restart: \(error)"]
        }
    }
}
