import Foundation
import GRDB

/// What a data directory holds after a fault, read the way an operator and an auditor read it: the
/// audit chain (`veil audit export`) and its verification with ε replay (`veil audit verify --json`),
/// the ledger (`veil budget --json`), the registry (`veil models list --json`); and, read-only with
/// SQLite itself, the event IDs stored (no command prints them).
struct DataDirectoryReport {
    struct Record {
        let seq: Int
        let action: String
        let details: [String: Any]
    }

    struct Spend {
        let id: Int64
        let principal: String
        let epsilon: Double
        let cumulativeEpsilon: Double
    }

    /// What could not be read at all (a command that failed), described.
    var unreadable: [String] = []
    var verification: [String: Any] = [:]
    var chain: [Record] = []
    var ledger: [Spend] = []
    var modelIDs: [String] = []
    var storedEventIDs: Set<String> = []

    init(_ installation: VeilInstallation) {
        let verified = Self.attempt("veil audit verify --json", &unreadable) {
            let result = try installation.run(["audit", "verify", "--json"])
            guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
                throw HarnessError("exited \(result.status) without a JSON report: \(result.stderr)")
            }
            return object
        }
        verification = verified ?? [:]
        chain =
            Self.attempt("veil audit export", &unreadable) {
                let result = try installation.run(["audit", "export"])
                guard result.status == 0 else { throw HarnessError("exited \(result.status): \(result.stderr)") }
                return try result.stdout.split(separator: "\n").map { line in
                    let outer = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    let bodyText = outer?["body"] as? String ?? ""
                    let body = try JSONSerialization.jsonObject(with: Data(bodyText.utf8)) as? [String: Any] ?? [:]
                    return Record(
                        seq: body["seq"] as? Int ?? -1, action: body["action"] as? String ?? "",
                        details: body["details"] as? [String: Any] ?? [:])
                }
            } ?? []
        ledger =
            Self.attempt("veil budget --json", &unreadable) {
                let status = try installation.json(["budget"]) as? [String: Any]
                return (status?["spends"] as? [[String: Any]] ?? []).map { spend in
                    Spend(
                        id: Int64(spend["id"] as? Int ?? -1), principal: spend["principal"] as? String ?? "",
                        epsilon: spend["epsilon"] as? Double ?? .nan,
                        cumulativeEpsilon: spend["cumulative_epsilon"] as? Double ?? .nan)
                }
            } ?? []
        modelIDs =
            Self.attempt("veil models list --json", &unreadable) {
                (try installation.json(["models", "list"]) as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            } ?? []
        storedEventIDs =
            Self.attempt("reading the events table", &unreadable) { try Self.eventIDs(in: installation.databaseFile) } ?? []
    }

    private static func attempt<T>(_ what: String, _ failures: inout [String], _ body: () throws -> T) -> T? {
        do {
            return try body()
        } catch {
            failures.append("\(what): \(error)")
            return nil
        }
    }

    /// Every `event_id` in `veil.sqlite` (an absent database holds none).
    static func eventIDs(in database: URL) throws -> Set<String> {
        try read(database) { db in
            try db.tableExists("events") ? Set(String.fetchAll(db, sql: "SELECT event_id FROM events")) : []
        } ?? []
    }

    /// Runs `body` on `database` opened read-only with SQLite itself, not with Veil's store; nil when
    /// there is no database file.
    static func read<T>(_ database: URL, _ body: (Database) throws -> T) throws -> T? {
        guard FileManager.default.fileExists(atPath: database.path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: database.path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read(body)
    }

    func records(_ action: String) -> [Record] { chain.filter { $0.action == action } }
}

/// The crash contract's checks (crash-contract.md §6), on a data directory after a fault: every one
/// that fails is described; none may.
enum CrashInvariants {
    /// - `veil audit verify` passes, ε replay included, and replays every `budget.spend` record;
    /// - the ledger's spends and the chain's `budget.spend` records are one for one, in order, with the
    ///   same principal, ε and cumulative ε (and the same spend id where the record carries one);
    /// - every spend in `acknowledgedSpends` is in the ledger;
    /// - the events stored are exactly those the chain's `ingest.batch` records account for (less
    ///   erasures), and every event in `acknowledgedEvents` is stored;
    /// - every registered model has its `model.train` record.
    ///
    /// `storedEventIDs`, when given, are the event ids the store holds, read by the caller (a PostgreSQL
    /// database); by default they are read from the installation's `veil.sqlite`.
    static func problems(
        in installation: VeilInstallation, acknowledgedSpends: [Int64] = [], acknowledgedEvents: [String] = [],
        storedEventIDs: Set<String>? = nil
    ) -> [String] {
        var report = DataDirectoryReport(installation)
        if let storedEventIDs { report.storedEventIDs = storedEventIDs }
        var problems = report.unreadable
        let spendRecords = report.records("budget.spend")

        if report.verification["valid"] as? Bool != true {
            let failure = report.verification["failure"] as? [String: Any] ?? [:]
            problems.append(
                "veil audit verify fails at seq \(failure["seq"] ?? "?"): \(failure["reason"] ?? "no report")")
        } else {
            let epsilon = report.verification["epsilon"] as? [String: Any] ?? [:]
            if epsilon["performed"] as? Bool != true { problems.append("veil audit verify did not replay ε") }
            if epsilon["spends_checked"] as? Int != spendRecords.count {
                problems.append("veil audit verify replayed \(epsilon["spends_checked"] ?? "?") of \(spendRecords.count) spends")
            }
        }

        if report.ledger.count != spendRecords.count {
            problems.append("the ledger has \(report.ledger.count) spends, the chain \(spendRecords.count) budget.spend records")
        }
        for (index, (spend, record)) in zip(report.ledger, spendRecords).enumerated() {
            let details = record.details
            let same =
                details["principal"] as? String == spend.principal
                && close(details["epsilon"] as? Double, spend.epsilon)
                && close(details["cumulative_epsilon"] as? Double, spend.cumulativeEpsilon)
                && (details["spend_id"].map { ($0 as? Int).map(Int64.init) == spend.id } ?? true)
            if !same {
                problems.append("spend \(index + 1) (ledger id \(spend.id)) differs from its budget.spend record (seq \(record.seq))")
            }
        }
        let ledgerIDs = Set(report.ledger.map(\.id))
        let lostSpends = acknowledgedSpends.filter { !ledgerIDs.contains($0) }
        if !lostSpends.isEmpty { problems.append("acknowledged spends missing from the ledger: \(lostSpends)") }

        let recordedEvents =
            report.records("ingest.batch").reduce(0) { $0 + ($1.details["accepted"] as? Int ?? 0) }
            - report.records("subject.erase").reduce(0) { $0 + ($1.details["events"] as? Int ?? 0) }
        if recordedEvents != report.storedEventIDs.count {
            problems.append(
                "the store holds \(report.storedEventIDs.count) events, the chain's ingest.batch records account for \(recordedEvents)")
        }
        let lostEvents = acknowledgedEvents.filter { !report.storedEventIDs.contains($0) }
        if !lostEvents.isEmpty { problems.append("\(lostEvents.count) acknowledged events are not stored") }

        let trained = Set(report.records("model.train").compactMap { $0.details["model_id"] as? String })
        for model in report.modelIDs where !trained.contains(model) {
            problems.append("model \(model) is registered without its model.train record")
        }
        return problems
    }

    /// One more spend (`veil query`, ε = 0.01) after the fault: it must be accepted, and the directory
    /// must then pass every check of `problems` with that spend among the acknowledged ones.
    static func problemsAfterANewSpend(in installation: VeilInstallation) -> [String] {
        do {
            let answer = try installation.json(["query", "--metric", "count_events", "--epsilon", "0.01"]) as? [String: Any]
            guard let id = (answer?["budget"] as? [String: Any])?["spend_id"] as? Int else {
                return ["a new spend after the fault printed no spend id"]
            }
            return problems(in: installation, acknowledgedSpends: [Int64(id)]).map { "after a new spend: \($0)" }
        } catch {
            return ["a new spend after the fault failed: \(error)"]
        }
    }

    private static func close(_ recorded: Double?, _ stored: Double) -> Bool {
        guard let recorded else { return false }
        return abs(recorded - stored) <= 1e-9 * max(1, abs(stored))
    }
}
