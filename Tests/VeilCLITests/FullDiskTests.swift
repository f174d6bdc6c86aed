import Foundation
import Testing

/// A tmpfs of a fixed size mounted on a fresh directory for one test: a disk that really fills up.
/// Mounting needs root (`mount -t tmpfs`); where that is not permitted the tests that need it are
/// skipped with `unavailableReason`, never passed silently.
final class TmpfsMount {
    let directory: URL

    /// Why no tmpfs can be mounted here, or nil when one can (found by mounting one once).
    static let unavailableReason: String? = {
        do {
            try TmpfsMount(megabytes: 1).unmount()
            return nil
        } catch {
            return "a full disk needs a small tmpfs, and mounting one is not permitted here (\(error)); run the tests as root"
        }
    }()

    init(megabytes: Int) throws {
        directory = try VeilProcess.scratchDirectory()
        try Self.mount(["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", directory.path])
    }

    /// Unmounts (lazily, should a process still hold a file) and removes the mount point.
    func unmount() throws {
        try Self.command("/usr/bin/env", ["umount", "-l", directory.path])
        try FileManager.default.removeItem(at: directory)
    }

    /// Mounts this file system's `name` over `target` (`mount --bind`), so that `target` lives on this
    /// disk while the files beside it do not; returns the undo.
    func bind(_ name: String, over target: URL) throws -> () -> Void {
        try Self.mount(["--bind", directory.appendingPathComponent(name).path, target.path])
        return { try? Self.command("/usr/bin/env", ["umount", target.path]) }
    }

    /// Bytes still free on the file system.
    var freeBytes: Int64 {
        var info = statvfs()
        guard statvfs(directory.path, &info) == 0 else { return 0 }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Writes a file of zeros that leaves about `free` bytes on the disk (with 0, until a write fails).
    func fill(_ file: URL, leaving free: Int64) throws {
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        let chunk = Data(count: 64 * 1024)
        while freeBytes > free + Int64(chunk.count) { try handle.write(contentsOf: chunk) }
        guard free == 0 else { return }
        let page = Data(count: 4_096)
        while (try? handle.write(contentsOf: page)) != nil {}
    }

    private static func mount(_ arguments: [String]) throws { try command("/usr/bin/env", ["mount"] + arguments) }

    private static func command(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("\(arguments.first ?? executable) exited \(process.terminationStatus): \(message)")
        }
    }
}

/// crash-contract.md §5 and §6, a full disk: the data directory on a 16 MiB tmpfs filled up while
/// `veil serve` takes batches and spends. Requests fail with 503 and `Retry-After` (never 500), the
/// server's log and the CLI say which disk is full and that nothing was written (never a GRDB error),
/// nothing is half-written, and once space is freed everything verifies and works. On the real binary.
@Suite(.serialized) struct FullDiskTests {
    @Test(.enabled(if: TmpfsMount.unavailableReason == nil, "needs root to mount a small tmpfs (mount -t tmpfs)"))
    func aFullDiskFailsRequestsWith503AndLosesNothing() throws {
        let disk = try TmpfsMount(megabytes: 16)
        defer { try? disk.unmount() }
        let installation = try VeilInstallation(dataDirectory: disk.directory.appendingPathComponent("data"))
        let (ingestToken, analystToken) = (try installation.token("ingest"), try installation.token("analyst"))
        let users = (0..<100).map { _ in "raw-user-\(UUID().uuidString)" }
        let sessions = (0..<100).map { _ in "raw-session-\(UUID().uuidString)" }
        let size = 200
        let filler = disk.directory.appendingPathComponent("filler")
        try disk.fill(filler, leaving: 512 * 1024)

        let server = try installation.serve(log: "serve.log")
        var statuses: [String: [Int]] = [:]
        var (acknowledgedBatches, acknowledgedSpends) = ([Int](), [Int64]())
        var unavailable: [CurlClient.Response] = []
        for index in 0..<200 where unavailable.count < 10 {
            let batch = try CurlClient.send(
                "POST", server.baseURL + "/v1/events", token: ingestToken, contentType: "application/x-ndjson",
                body: IngestDurabilityCLITests.batch(index, size: size, users: users, sessions: sessions))
            let spend = try CurlClient.send(
                "POST", server.baseURL + "/v1/queries", token: analystToken, contentType: "application/json",
                body: Data(#"{"metric":"count_events","epsilon":0.01}"#.utf8))
            statuses["events", default: []].append(batch.status)
            statuses["queries", default: []].append(spend.status)
            if batch.status == 200 { acknowledgedBatches.append(index) }
            if let id = spendID(of: spend) { acknowledgedSpends.append(id) }
            unavailable += [batch, spend].filter { $0.status == 503 }
        }
        let cli = try installation.run(["query", "--metric", "count_events", "--epsilon", "0.01"])
        print(
            "fault: full disk (16 MiB tmpfs): \(acknowledgedBatches.count) batches and \(acknowledgedSpends.count) spends "
                + "acknowledged, \(unavailable.count) answered 503; statuses \(statuses.mapValues { Set($0).sorted() })")

        #expect(!unavailable.isEmpty, "the disk never filled up")
        for (kind, seen) in statuses {
            #expect(seen.allSatisfy { $0 == 200 || $0 == 503 }, "\(kind) answered \(Set(seen).sorted()): only 200 or 503 may be")
        }
        for response in unavailable {
            #expect(response.headers["retry-after"] != nil, "a 503 without Retry-After: \(response.body)")
            #expect(!response.body.contains("GRDB"))
        }
        #expect(cli.status != 0, "veil query spent on a full disk")
        #expect(cli.stderr.contains("is full") && cli.stderr.contains("nothing was written"), "\(cli.stderr)")
        #expect(!cli.stderr.contains("GRDB"), "\(cli.stderr)")

        // Space freed: the running server takes a batch and a spend again.
        try FileManager.default.removeItem(at: filler)
        let batch = try CurlClient.send(
            "POST", server.baseURL + "/v1/events", token: ingestToken, contentType: "application/x-ndjson",
            body: IngestDurabilityCLITests.batch(1_000, size: size, users: users, sessions: sessions))
        let spend = try CurlClient.send(
            "POST", server.baseURL + "/v1/queries", token: analystToken, contentType: "application/json",
            body: Data(#"{"metric":"count_events","epsilon":0.01}"#.utf8))
        #expect(batch.status == 200 && spend.status == 200, "after space was freed: \(batch.body) \(spend.body)")
        if batch.status == 200 { acknowledgedBatches.append(1_000) }
        if let id = spendID(of: spend) { acknowledgedSpends.append(id) }
        server.stop()
        let log = server.stderr
        #expect(log.contains("is full") && log.contains(installation.dataDirectory.path), "the server's log does not say which disk is full")
        #expect(!log.contains("GRDB"), "the server's log shows a raw GRDB error")

        let events = acknowledgedBatches.flatMap { index in (0..<size).map { "evt-\(index * size + $0)" } }
        #expect(CrashInvariants.problems(in: installation, acknowledgedSpends: acknowledgedSpends, acknowledgedEvents: events) == [])
        #expect(CrashInvariants.problemsAfterANewSpend(in: installation) == [])
    }

    /// A disk with no byte left, which caught `audit.log` two records behind the store (the store
    /// committed, the mirror's append failed). SQLite cannot even open a WAL database then (it must
    /// create `veil.sqlite-shm`), so commands may fail — but each that does says that the disk holding
    /// the data directory is full (never an anonymous I/O error, never GRDB); once space is freed the
    /// next command catches the mirror up, byte for byte, and everything verifies.
    @Test(.enabled(if: TmpfsMount.unavailableReason == nil, "needs root to mount a small tmpfs (mount -t tmpfs)"))
    func aCompletelyFullDiskIsNamedByEveryCommand() throws {
        let disk = try TmpfsMount(megabytes: 4)
        defer { try? disk.unmount() }
        let installation = try VeilInstallation(dataDirectory: disk.directory.appendingPathComponent("data"))
        for _ in 0..<3 {
            try #require(try installation.run(["query", "--metric", "count_events", "--epsilon", "0.1"]).status == 0)
        }
        let log = try Data(contentsOf: installation.auditLogFile)
        let lineEnds = log.indices.filter { log[$0] == UInt8(ascii: "\n") }
        try log.prefix(lineEnds[lineEnds.count - 3] + 1).write(to: installation.auditLogFile)
        try disk.fill(disk.directory.appendingPathComponent("filler"), leaving: 0)

        for command in [["budget", "--json"], ["audit", "verify", "--json"], ["query", "--metric", "count_events", "--epsilon", "0.1"]] {
            let result = try installation.run(command)
            guard result.status != 0 else { continue }
            #expect(
                result.stderr.contains("is full") && result.stderr.contains(installation.dataDirectory.path),
                "veil \(command[0]) on a full disk: \(result.stderr)")
            #expect(!result.stderr.contains("GRDB"), "\(result.stderr)")
        }

        try FileManager.default.removeItem(at: disk.directory.appendingPathComponent("filler"))
        #expect(CrashInvariants.problems(in: installation) == [])
        #expect(try Data(contentsOf: installation.auditLogFile).starts(with: log), "the mirror did not catch up")
    }

    /// `audit.log` alone on a disk with no byte left (a file of a full tmpfs mounted over it), the
    /// database beside it healthy, the mirror two records behind the store. The store is the truth and
    /// the mirror only a copy that may lag: every command still works — `veil budget` reads all three
    /// spends, a new spend is accepted, `veil audit verify` passes — and says that audit.log was not
    /// brought up to date because its disk is full; with room again the next command catches it up.
    @Test(.enabled(if: TmpfsMount.unavailableReason == nil, "needs root to mount a small tmpfs (mount -t tmpfs)"))
    func aMirrorOnAFullDiskDoesNotStopTheStore() throws {
        let installation = try VeilInstallation()
        for _ in 0..<3 {
            try #require(try installation.run(["query", "--metric", "count_events", "--epsilon", "0.1"]).status == 0)
        }
        let log = try Data(contentsOf: installation.auditLogFile)
        let lineEnds = log.indices.filter { log[$0] == UInt8(ascii: "\n") }
        let behind = log.prefix(lineEnds[lineEnds.count - 3] + 1)
        try behind.write(to: installation.auditLogFile)
        let disk = try TmpfsMount(megabytes: 1)
        defer { try? disk.unmount() }
        try behind.write(to: disk.directory.appendingPathComponent("audit.log"))
        try disk.fill(disk.directory.appendingPathComponent("filler"), leaving: 0)
        let unbind = try disk.bind("audit.log", over: installation.auditLogFile)

        let budget = try installation.run(["budget", "--json"])
        #expect(budget.status == 0, "a mirror that cannot be written stopped veil budget: \(budget.stderr)")
        let status = try? JSONSerialization.jsonObject(with: Data(budget.stdout.utf8)) as? [String: Any]
        #expect((status?["spends"] as? [Any])?.count == 3)
        #expect(budget.stderr.contains("audit.log") && budget.stderr.contains("is full"), "\(budget.stderr)")
        let spent = try installation.run(["query", "--metric", "count_events", "--epsilon", "0.1"])
        #expect(spent.status == 0, "a mirror that cannot be written stopped a spend: \(spent.stderr)")
        let verified = try installation.run(["audit", "verify", "--json"])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        unbind()

        #expect(CrashInvariants.problems(in: installation) == [])
        #expect(try Data(contentsOf: installation.auditLogFile).starts(with: log), "the mirror did not catch up")
    }
}
