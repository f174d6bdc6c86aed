import Foundation
import Testing

/// Issue 17 on the real `veil` binary: each foreign export in `docs/examples` (a header-less,
/// whitespace-separated transaction log with line totals; a clickstream with its own page names; a
/// GA4-style export) imports with one `veil ingest FILE --mapping FILE.yaml`, and what is stored — read
/// back with the sqlite3 shell — matches a pandas computation over the same file
/// (`scripts/reference/import_totals.py`) exactly: events, users and revenue in cents per type, records
/// skipped by value, the time range. Problems come grouped by rule; no raw user ID is ever printed or
/// stored.
@Suite(.serialized) struct MappedImportCLITests {
    typealias Installation = VeilInstallation

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func example(_ name: String) -> String { repository.appendingPathComponent("docs/examples/\(name)").path }

    /// Each example's data file and the prefixes every raw user and session ID in it starts with.
    static let examples: [String: (data: String, rawIDPrefixes: [String])] = [
        "transactions": ("transactions.txt", ["cust-"]),
        "clickstream": ("clickstream.csv", ["visitor-", "sess-"]),
        "ga4": ("ga4.csv", ["ga-1834", "ga-9921"]),
    ]

    /// One type's events, distinct users and revenue in cents.
    struct Totals: Equatable, CustomStringConvertible {
        var events: Int
        var users: Int
        var revenueCents: Int
        var description: String { "\(events) events, \(users) users, \(revenueCents) cents" }
    }

    /// What pandas says the import must store.
    struct Expected {
        var types: [String: Totals]
        var skipped: [String: Int]
        var firstMillis: Int64
        var lastMillis: Int64
        var firstEvent: String
        var lastEvent: String
        var events: Int { types.values.reduce(0) { $0 + $1.events } }
    }

    static func pandas(_ kind: String, _ file: String) throws -> Expected {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repository.appendingPathComponent("scripts/reference/import_totals.py").path, kind, file]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0,
            "python3 with pandas is needed for this cross-check: run scripts/install-deps.sh (\(errors.suffix(300)))")
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let types = try #require(object["types"] as? [String: [String: Int]])
        return Expected(
            types: types.mapValues { Totals(events: $0["events"]!, users: $0["users"]!, revenueCents: $0["revenue_cents"]!) },
            skipped: try #require(object["skipped"] as? [String: Int]),
            firstMillis: Int64(try #require(object["first_ms"] as? Int)),
            lastMillis: Int64(try #require(object["last_ms"] as? Int)),
            firstEvent: try #require(object["first_event"] as? String),
            lastEvent: try #require(object["last_event"] as? String))
    }

    /// Per type, what the database holds: events, distinct pseudonyms, and revenue (price × quantity, a
    /// missing quantity counting 1, rounded to the cent per event) — read by the sqlite3 shell.
    static func stored(_ installation: Installation) throws -> [String: Totals] {
        let text = try HostileInputCLITests.sqlite(
            installation.dataDirectory,
            "SELECT type, count(*), count(DISTINCT pid), coalesce(sum(CAST(round(price * coalesce(quantity, 1) * 100) AS INTEGER)), 0) FROM events GROUP BY type;",
            readOnly: true)
        var totals: [String: Totals] = [:]
        for line in text.split(separator: "\n") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            try #require(cells.count == 4, "\(line)")
            totals[cells[0]] = Totals(events: Int(cells[1])!, users: Int(cells[2])!, revenueCents: Int(cells[3])!)
        }
        return totals
    }

    static func report(_ result: VeilProcess.Result) throws -> [String: Any] {
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
        return try #require((summary["files"] as? [[String: Any]])?.first)
    }

    /// Every byte the commands printed and every file of the data directory holds no raw ID.
    static func expectNoRawIDs(_ prefixes: [String], outputs: [VeilProcess.Result], in installation: Installation) {
        var seen: [(what: String, bytes: Data)] = outputs.map { ("command output", Data(($0.stdout + $0.stderr).utf8)) }
        let files = FileManager.default.enumerator(at: installation.dataDirectory, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            if let bytes = FileManager.default.contents(atPath: url.path) { seen.append((url.lastPathComponent, bytes)) }
        }
        #expect(seen.contains { $0.what == "veil.sqlite" }, "the database was not scanned: \(seen.map(\.what))")
        for (what, bytes) in seen {
            for prefix in prefixes {
                #expect(bytes.range(of: Data(prefix.utf8)) == nil, "a raw ID (\(prefix)…) appears in \(what)")
            }
        }
    }

    /// The dry run shows what would be stored and stores nothing; the import stores what pandas
    /// computes; a second import adds nothing.
    @Test(arguments: ["transactions", "clickstream", "ga4"])
    func anExportImportsWithItsMappingFileAsPandasCountsIt(kind: String) throws {
        let (dataFile, prefixes) = Self.examples[kind]!
        let data = Self.example(dataFile)
        let mapping = Self.example("\(kind).yaml")
        let expected = try Self.pandas(kind, data)
        let installation = try Installation()

        let dryText = try installation.run(["ingest", data, "--mapping", mapping, "--dry-run"])
        #expect(dryText.status == 0, "\(dryText.stdout)\(dryText.stderr)")
        #expect(dryText.stdout.contains("dry run: would store \(expected.events) new events, 0 duplicates, 0 rejected"), "\(dryText.stdout)")
        #expect(dryText.stdout.contains("time range: \(expected.firstEvent) … \(expected.lastEvent)"), "\(dryText.stdout)")
        #expect(dryText.stdout.contains("first events as they would be stored (user IDs as pseudonyms):"))
        let previewLines = dryText.stdout.split(separator: "\n").filter { $0.hasPrefix("    line ") }
        #expect(previewLines.count == min(5, expected.events))
        for line in previewLines {
            let pseudonym = line.split(separator: " ", omittingEmptySubsequences: true)[2]
            #expect(pseudonym.count == 32 && pseudonym.allSatisfy(\.isHexDigit), "\(line)")
        }
        let dry = try Self.report(try installation.run(["ingest", data, "--mapping", mapping, "--dry-run", "--json"]))
        #expect(dry["dry_run"] as? Bool == true && dry["accepted"] as? Int == expected.events)
        #expect(dry["types"] as? [String: Int] == expected.types.mapValues(\.events))
        #expect(dry["skipped"] as? [String: Int] == expected.skipped)
        #expect(dry["first_event"] as? String == expected.firstEvent && dry["last_event"] as? String == expected.lastEvent)
        #expect(try HostileInputCLITests.sqlite(installation.dataDirectory, "SELECT count(*) FROM events;", readOnly: true) == "0\n")

        let imported = try installation.run(["ingest", data, "--mapping", mapping, "--json"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let report = try Self.report(imported)
        #expect(report["accepted"] as? Int == expected.events && report["rejected"] as? Int == 0)
        #expect(try Self.stored(installation) == expected.types)
        let range = try HostileInputCLITests.sqlite(installation.dataDirectory, "SELECT min(ts_ms), max(ts_ms) FROM events;", readOnly: true)
        #expect(range == "\(expected.firstMillis)|\(expected.lastMillis)\n")

        let again = try installation.run(["ingest", data, "--mapping", mapping, "--json"])
        let second = try Self.report(again)
        #expect(second["accepted"] as? Int == 0 && second["duplicates"] as? Int == expected.events)
        Self.expectNoRawIDs(prefixes, outputs: [dryText, imported, again], in: installation)
    }

    /// The same transaction-log mapping given as flags stores the same events: importing the file with
    /// the mapping file after the flags finds only duplicates (event keys derive from the content).
    @Test func theTransactionLogMappingAsFlags() throws {
        let installation = try Installation()
        let data = Self.example("transactions.txt")
        let flags = try installation.run([
            "ingest", data, "--delimiter", "whitespace", "--columns", "customer,date,quantity,amount",
            "--map", "user_id=customer,timestamp=date,quantity=quantity,price=amount / quantity", "--default-type", "purchase",
            "--timestamp-format", "%Y%m%d", "--time-zone", "America/New_York", "--json",
        ])
        #expect(flags.status == 0, "\(flags.stderr)")
        let expected = try Self.pandas("transactions", data)
        #expect(try Self.report(flags)["accepted"] as? Int == expected.events)
        let file = try Self.report(try installation.run(["ingest", data, "--mapping", Self.example("transactions.yaml"), "--json"]))
        #expect(file["accepted"] as? Int == 0 && file["duplicates"] as? Int == expected.events)
    }

    /// A broken clickstream: problems grouped by rule, each with its count and first three lines, the
    /// unknown page names listed with a hint at `types:`, and no user ID printed — not even one that
    /// landed in the page column. Nothing is stored.
    @Test func problemsAreGroupedByRuleAndNeverShowAUserID() throws {
        let installation = try Installation()
        var lines = ["ts,visitor,session,page,item,category,price"]
        for index in 0..<300 {
            lines.append("\(1_767_261_600_000 + index),visitor-\(index % 9),sess-\(index % 4),\(["wishlist", "compare", "product"][index % 3]),,,")
        }
        lines.append("1767261xx0000,visitor-1,sess-1,product,sku-1,,")
        lines.append("1767261600000,visitor-2,sess-1,visitor-2,sku-1,,")
        lines.append("1767261600000,visitor-3,sess-1,buy,sku-1,,twelve")
        let file = installation.root.appendingPathComponent("broken.csv")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)

        let result = try installation.run(["ingest", file.path, "--mapping", Self.example("clickstream.yaml")])
        #expect(result.status == 1)
        let out = result.stdout
        #expect(out.contains("rejected — 203 invalid lines; nothing of this file was stored"), "\(out)")
        #expect(out.contains("type must be one of") && out.contains("— 201 lines (first: 2, 3, 5)"), "\(out)")
        #expect(out.contains("unknown values: compare (100), wishlist (100), 1 line with values not shown"), "\(out)")
        #expect(out.contains("hint: map the values in the mapping's types: section"), "\(out)")
        #expect(out.contains("timestamp must be Unix time in milliseconds (whole number) — 1 line (first: 302)"), "\(out)")
        #expect(out.contains("— 1 line (first: 304)"), "\(out)")
        #expect(out.split(separator: "\n").count < 20, "one line per rule, not one per problem: \(out)")
        let json = try Self.report(try installation.run(["ingest", file.path, "--mapping", Self.example("clickstream.yaml"), "--json"]))
        let groups = try #require((json["summary"] as? [String: Any])?["groups"] as? [[String: Any]])
        #expect(groups.map { $0["count"] as? Int } == [201, 1, 1])
        #expect(groups.map { $0["first"] as? [Int] } == [[2, 3, 5], [302], [304]])
        #expect(try HostileInputCLITests.sqlite(installation.dataDirectory, "SELECT count(*) FROM events;", readOnly: true) == "0\n")
        Self.expectNoRawIDs(["visitor-", "sess-"], outputs: [result], in: installation)
    }

    /// A mapping file with problems names each key, the rule and the line, and imports nothing.
    @Test func aBadMappingFileNamesKeysAndLines() throws {
        let installation = try Installation()
        let mapping = installation.root.appendingPathComponent("bad.yaml")
        try "fields:\n  user_id: customer\n  price: amount /\ncolour: blue\ntypes: {home: sleep}\n".write(to: mapping, atomically: true, encoding: .utf8)
        let result = try installation.run(["ingest", Self.example("transactions.txt"), "--mapping", mapping.path])
        #expect(result.status == 64)
        #expect(result.stderr.contains("bad.yaml: fields.price: ends too early") && result.stderr.contains("(line 3)"), "\(result.stderr)")
        #expect(result.stderr.contains("bad.yaml: colour: is not a known key") && result.stderr.contains("(line 4)"), "\(result.stderr)")
        #expect(result.stderr.contains("bad.yaml: types.home: must be skip, an event type"), "\(result.stderr)")
        #expect(!result.stderr.contains("cust-"))
    }
}
