import Foundation
import Testing

/// Issue 3's end-to-end guarantees, on the real `veil` binary: acknowledged batches survive `kill -9`
/// exactly once, and no raw user or session ID reaches the disk, the logs or the metrics.
@Suite(.serialized) struct IngestDurabilityCLITests {
    /// NDJSON events with distinctive raw IDs: `users` users, event IDs `prefix-0`, `prefix-1`, ….
    static func batch(_ index: Int, size: Int, users: [String], sessions: [String], prefix: String = "evt") -> Data {
        var text = ""
        for i in 0..<size {
            let n = index * size + i
            text += #"{"event_id":"\#(prefix)-\#(n)","user_id":"\#(users[n % users.count])","session_id":"\#(sessions[n % sessions.count])","type":"purchase","timestamp":"2026-01-05T10:00:00Z","category":"books","price":12.5,"quantity":1}"#
            text += "\n"
        }
        return Data(text.utf8)
    }

    /// What the concurrent senders saw, behind a lock.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var acknowledged = Set<Int>()
        private var unanswered = 0
        private var wrong: [Int] = []

        func record(_ index: Int, _ summary: (accepted: Int, duplicates: Int)?, expected: Int) {
            lock.withLock {
                guard let summary else { return unanswered += 1 }
                acknowledged.insert(index)
                if summary.accepted != expected || summary.duplicates != 0 { wrong.append(index) }
            }
        }

        var snapshot: (acknowledged: Set<Int>, unanswered: Int, wrong: [Int]) { lock.withLock { (acknowledged, unanswered, wrong) } }
    }

    /// `workers` concurrent senders (threads): worker w sends batches w, w + workers, … of `batches`,
    /// one at a time; wait on the group for all of them to finish.
    static func senders(_ workers: Int, batches: Int, _ send: @escaping @Sendable (Int) -> Void) -> DispatchGroup {
        let group = DispatchGroup()
        for worker in 0..<workers {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for index in stride(from: worker, to: batches, by: workers) { send(index) }
            }
        }
        return group
    }

    static func summary(_ response: CurlClient.Response) -> (accepted: Int, duplicates: Int)? {
        guard response.status == 200,
            let object = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
            let accepted = object["accepted"] as? Int, let duplicates = object["duplicates"] as? Int
        else { return nil }
        return (accepted, duplicates)
    }

    /// Batches from four concurrent senders; `kill -9` once 15 are acknowledged, with others in flight;
    /// a restart and a resend of everything. Every batch acknowledged before the kill is stored, a batch
    /// is stored whole or not at all, nothing twice, and every stored user has its vault row.
    @Test func acknowledgedBatchesSurviveKill9ExactlyOnce() async throws {
        let installation = try VeilInstallation()
        let token = try installation.token("ingest")
        let users = (0..<300).map { _ in "raw-user-\(UUID().uuidString)" }
        let sessions = (0..<300).map { _ in "raw-session-\(UUID().uuidString)" }
        let (batchCount, size) = (48, 250)
        let batches = (0..<batchCount).map { Self.batch($0, size: size, users: users, sessions: sessions) }

        let server = try installation.serve(log: "serve-1.log")
        let url = server.baseURL + "/v1/events"
        let tally = Tally()
        let senders = Self.senders(4, batches: batchCount) { index in
            let response = try? CurlClient.send("POST", url, token: token, contentType: "application/x-ndjson", body: batches[index])
            tally.record(index, response.flatMap(Self.summary), expected: size)
        }
        while tally.snapshot.acknowledged.count < 15 { usleep(2_000) }
        server.kill9()
        senders.wait()
        let (acknowledgedBeforeKill, unanswered, wrong) = tally.snapshot
        #expect(unanswered > 0, "the kill came after the last batch; nothing was in flight")
        #expect(wrong.isEmpty, "batches acknowledged with the wrong counts: \(wrong)")

        // What the crash left: whole batches only, every acknowledged one among them.
        let storedAfterCrash = try installation.rowCount("events")
        #expect(storedAfterCrash % size == 0)
        #expect(storedAfterCrash >= acknowledgedBeforeKill.count * size)

        let restarted = try installation.serve(log: "serve-2.log")
        var (accepted, duplicates) = (0, 0)
        for (index, body) in batches.enumerated() {
            let response = try CurlClient.send(
                "POST", restarted.baseURL + "/v1/events", token: token, contentType: "application/x-ndjson", body: body)
            let summary = try #require(Self.summary(response), "batch \(index): \(response.status) \(response.body)")
            #expect(summary.accepted + summary.duplicates == size)
            #expect(summary.accepted == 0 || summary.accepted == size, "batch \(index) was partly stored")
            if acknowledgedBeforeKill.contains(index) {
                #expect(summary.duplicates == size, "acknowledged batch \(index) was lost")
            }
            accepted += summary.accepted
            duplicates += summary.duplicates
        }
        #expect(duplicates == storedAfterCrash)
        #expect(accepted == batchCount * size - storedAfterCrash)
        #expect(restarted.stop() == 0)

        #expect(try installation.rowCount("events") == batchCount * size)
        #expect(try installation.rowCount("vault") == users.count)
        #expect(CrashInvariants.problems(in: installation) == [])
    }

    /// `veil ingest` stores a file in one transaction: a `kill -9` at any point leaves all of it or
    /// nothing — never some events, never events without their vault rows, never events without their
    /// `ingest.batch` record (`CrashInvariants`) — and importing the file again then completes it.
    /// Killed at 30 %, 60 % and 90 % of the time a whole import takes here, and (nil) at the moment
    /// the commit starts writing the WAL.
    @Test(arguments: [0.3, 0.6, 0.9, nil] as [Double?])
    func anImportKilledPartWayLeavesAllOrNothing(at fraction: Double?) async throws {
        let users = (0..<500).map { _ in "raw-user-\(UUID().uuidString)" }
        let sessions = (0..<500).map { _ in "raw-session-\(UUID().uuidString)" }
        let count = 60_000
        let file = try VeilProcess.scratchDirectory().appendingPathComponent("history.ndjson")
        try Self.batch(0, size: count, users: users, sessions: sessions, prefix: "hist").write(to: file)

        let installation = try VeilInstallation()
        let point: KillPoint
        if let fraction {
            // How long a whole import takes here (debug or release build, busy or idle machine).
            let timing = try VeilInstallation()
            let started = ContinuousClock.now
            let whole = try timing.run(["ingest", file.path, "--json"])
            #expect(whole.status == 0, "\(whole.stderr)")
            point = .after((ContinuousClock.now - started) * fraction)
        } else {
            point = .whenGrows(installation.dataDirectory.appendingPathComponent("veil.sqlite-wal"))
        }
        let command = try installation.start(["ingest", file.path, "--json"])
        _ = point.wait { command.process.isRunning }
        command.kill9()

        let stored = try installation.rowCount("events")
        let identities = try installation.rowCount("vault")
        #expect(stored == 0 || stored == count, "a kill \(point) left \(stored) of \(count) events")
        #expect(identities == (stored == 0 ? 0 : users.count))
        #expect(CrashInvariants.problems(in: installation) == [], "a kill \(point)")

        let again = try installation.run(["ingest", file.path, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        #expect(report?["accepted"] as? Int == count - stored)
        #expect(report?["duplicates"] as? Int == stored)
        #expect(try installation.rowCount("vault") == users.count)
        #expect(CrashInvariants.problems(in: installation) == [], "after the import was run again")
    }

    /// Ingest over HTTP (including a rejected batch), an erasure over HTTP, `veil ingest` of an NDJSON
    /// file and of a CSV transaction log, `veil erase`; then every byte of the data directory (database, WAL, shared memory, audit log,
    /// models, anything), the server's stderr, `/metrics`, the API's answers and the commands' output
    /// are searched for every raw user and session ID.
    @Test func noRawIDReachesDiskLogsOrMetrics() async throws {
        let installation = try VeilInstallation()
        let (ingest, admin) = (try installation.token("ingest"), try installation.token("admin"))
        let users = (0..<20).map { _ in "raw-user-\(UUID().uuidString)" }
        let sessions = (0..<20).map { _ in "raw-session-\(UUID().uuidString)" }
        let importedUsers = (0..<20).map { _ in "raw-user-\(UUID().uuidString)" }
        var seen: [(what: String, text: Data)] = []

        let server = try installation.serve(log: "serve.log")
        let events = server.baseURL + "/v1/events"
        for index in 0..<3 {
            let response = try CurlClient.send(
                "POST", events, token: ingest, contentType: "application/x-ndjson",
                body: Self.batch(index, size: 200, users: users, sessions: sessions))
            #expect(Self.summary(response)?.accepted == 200, "\(response.status) \(response.body)")
        }
        let rejected = try CurlClient.send(
            "POST", events, token: ingest, contentType: "application/json",
            body: Data(#"[{"event_id":"bad-1","user_id":"\#(users[0])","session_id":"\#(sessions[0])","type":"teleport","timestamp":"yesterday"}]"#.utf8))
        #expect(rejected.status == 422)
        seen.append(("the 422 body", Data(rejected.body.utf8)))
        let erased = try CurlClient.send("DELETE", server.baseURL + "/v1/subjects/\(users[1])", token: admin)
        #expect(erased.status == 200, "\(erased.body)")
        seen.append(("the erasure answer", Data(erased.body.utf8)))
        let metrics = try CurlClient.send("GET", server.baseURL + "/metrics")
        #expect(metrics.body.contains("veil_events_accepted_total 600"))
        seen.append(("/metrics", Data(metrics.body.utf8)))
        #expect(server.stop() == 0)
        seen.append(("the server's stderr", Data(server.stderr.utf8)))

        let file = installation.root.appendingPathComponent("history.ndjson")
        try Self.batch(0, size: 100, users: importedUsers, sessions: sessions, prefix: "hist").write(to: file)
        let imported = try installation.run(["ingest", file.path, "--json"])
        #expect(imported.status == 0, "\(imported.stderr)")
        // A transaction log as real exports look: (customer, date, amount), mapped onto event fields.
        let log = installation.root.appendingPathComponent("log.csv")
        let logUsers = (0..<20).map { _ in "raw-user-\(UUID().uuidString)" }
        try ("customer,date,amount\n" + logUsers.map { "\($0),2026-01-02,3.5" }.joined(separator: "\n")).write(to: log, atomically: true, encoding: .utf8)
        let importedLog = try installation.run([
            "ingest", log.path, "--map", "user_id=customer,timestamp=date,price=amount", "--timestamp-format", "%Y-%m-%d",
            "--type", "purchase", "--json",
        ])
        #expect(importedLog.status == 0, "\(importedLog.stderr)")
        let erasedByCLI = try installation.run(["erase", "--user", importedUsers[0], "--json"])
        #expect(erasedByCLI.status == 0, "\(erasedByCLI.stderr)")
        for result in [imported, importedLog, erasedByCLI] {
            seen.append(("command output", Data((result.stdout + result.stderr).utf8)))
        }
        for input in [file, log] { try FileManager.default.removeItem(at: input) }
        #expect(try installation.rowCount("events") == 600 - 30 + 100 - 5 + 20)

        var scannedBytes = 0
        var sawStoredText = [false, false]
        let files = FileManager.default.enumerator(at: installation.dataDirectory, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard let bytes = FileManager.default.contents(atPath: url.path) else { continue }
            scannedBytes += bytes.count
            // The scan does see stored text: event IDs from HTTP and the content keys of the CSV import are there in the clear.
            for (index, marker) in ["evt-599", "auto:"].enumerated() where bytes.range(of: Data(marker.utf8)) != nil {
                sawStoredText[index] = true
            }
            seen.append((url.lastPathComponent, bytes))
        }
        #expect(scannedBytes > 0 && sawStoredText == [true, true], "the scan must see stored event IDs in the clear")
        #expect(seen.contains { $0.what == "audit.log" }, "the audit log was not scanned: \(seen.map(\.what))")
        for (what, bytes) in seen {
            #expect(bytes.range(of: Data("raw-user-".utf8)) == nil, "a raw user ID appears in \(what)")
            #expect(bytes.range(of: Data("raw-session-".utf8)) == nil, "a raw session ID appears in \(what)")
        }
    }
}
