import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilGateway
import VeilIngest
import VeilLedger
import VeilModels
import VeilPolicy
import VeilPrivacy
import VeilQueries
import VeilStore
import VeilStoreSQLite

/// What one harness tried and what it found. `violations` lists every broken invariant (empty when
/// all held); a crash ends the process, so a finished run is a run without one.
public struct HarnessReport: Sendable, Codable {
    public var harness: String
    /// Inputs handed to the parser under test (batches, files, documents, lines, bodies).
    public var inputs = 0
    /// Events generated for those inputs (events and CSV harnesses).
    public var events = 0
    public var accepted = 0
    public var rejected = 0
    /// Rejected batches or files that left anything in the store (must be 0).
    public var partialBatches = 0
    /// Inputs per mutation kind.
    public var mutations: [String: Int] = [:]
    public var violations: [String] = []
    public var seconds = 0.0

    init(_ harness: String) { self.harness = harness }

    mutating func violate(_ text: String) {
        if violations.count < 20 { violations.append(text) }
    }
}

/// The fuzz harnesses over every parser and decoder Veil owns, driven by `Mutator` from one seed,
/// against the real components (IngestService and SQLite in a scratch directory, EventImporter on
/// real files, PolicyLoader, AuditVerifier, key files, the strict request decoder).
///
/// Invariants checked, not only "did not crash": a rejected batch or file stores nothing; an accepted
/// one stores exactly what it reports; clean events round-trip through the store; no error, problem or
/// report contains a user ID (every generated user ID holds the marker `fuzz-u`); a verified audit log
/// is the one that was signed; a key file is accepted only if it holds a 32-byte base64 key.
public struct FuzzHarnesses {
    public let seed: UInt64
    let scratch: String

    /// Text no error may contain: every generated user ID holds it.
    static let marker = "fuzz-u"
    /// 2026-11-23T12:00:00Z, the clock events are judged against.
    static let now = Date(timeIntervalSince1970: 1_795_435_200)

    public init(seed: UInt64) throws {
        self.seed = seed
        scratch = NSTemporaryDirectory() + "veil-fuzz-\(seed)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    public func removeScratch() { try? FileManager.default.removeItem(atPath: scratch) }

    // MARK: Events (NDJSON and JSON arrays) through IngestService into SQLite

    /// `batches` batches of `size` events, every other batch damaged by one mutation.
    public func events(batches: Int, size: Int) async throws -> HarnessReport {
        var report = HarnessReport("events")
        let started = ContinuousClock.now
        let (service, store, keys) = try ingestService("events")
        var mutator = Mutator(seed: seed)
        for batch in 0..<batches {
            let events = (0..<size).map { Self.event(batch: batch, index: $0, &mutator) }
            let array = batch % 3 == 0
            var body = array ? Array(("[" + events.map(\.json).joined(separator: ",\n") + "]").utf8) : Array(events.map(\.json).joined(separator: "\n").utf8)
            var kind: Mutator.Kind?
            if batch % 2 == 1 {
                let line = mutator.int(0...(size - 1))
                let (start, end) = Self.range(ofLine: line, in: body)
                let mutated = mutator.mutate(Array(body[start..<end]), marker: "\(Self.marker)\(batch)@example.org")
                body.replaceSubrange(start..<end, with: mutated.bytes)
                kind = mutated.kind
                report.mutations[mutated.kind.rawValue, default: 0] += 1
            }
            report.inputs += 1
            report.events += size
            let before = try await store.eventCount()
            do {
                let summary = try await service.ingestBatch(Data(body), format: array ? .jsonArray : .ndjson, actor: "fuzz")
                let after = try await store.eventCount()
                report.accepted += 1
                if after - before != summary.accepted { report.violate("batch \(batch): stored \(after - before), reported \(summary.accepted)") }
                if kind == nil {
                    if summary.accepted != size { report.violate("clean batch \(batch): accepted \(summary.accepted) of \(size)") }
                    try await Self.checkRoundTrip(events.filter { $0.user == events[0].user }, store: store, keys: keys, &report)
                }
            } catch let rejected as BatchRejected {
                report.rejected += 1
                if try await store.eventCount() != before { report.partialBatches += 1 }
                if kind == nil { report.violate("clean batch \(batch) rejected: \(rejected.problems.prefix(2))") }
                for problem in rejected.problems where (problem.field + problem.message).contains(Self.marker) {
                    report.violate("batch \(batch): a problem echoes a user ID (\(kind?.rawValue ?? "-"))")
                }
            } catch let error as VeilError {
                report.rejected += 1
                if try await store.eventCount() != before { report.partialBatches += 1 }
                if error.description.contains(Self.marker) { report.violate("batch \(batch): an error echoes a user ID") }
            }
        }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    /// The real ingest pipeline over fresh keys and a fresh SQLite store under the scratch directory.
    func ingestService(_ name: String) throws -> (IngestService, any EventStore, KeyRing) {
        let keys = try KeyRing.initialize(directory: scratch + "/\(name)-keys")
        let stores = try Self.stores(in: scratch + "/\(name)-data", signingKey: keys.auditSigningKey)
        return (IngestService(store: stores.events, keys: keys, policy: Policy(), clock: .fixed(Self.now)), stores.events, keys)
    }

    /// Real stores (SQLite) in `directory`, sealing audit records with `signingKey` at the harness's fixed time.
    static func stores(in directory: String, signingKey: SigningKey) throws -> StoreSet {
        try SQLiteStores.open(
            directory: directory, configuration: StoreConfiguration(sealer: AuditSigner(signingKey: signingKey, clock: .fixed(now))))
    }

    /// One valid event with a marked user ID; about one user per ten events.
    struct Event {
        var user: String
        var type: EventType
        var millis: Int64
        var price: Double?
        var quantity: Int?
        var category: String?
        var json: String
    }

    static func event(batch: Int, index: Int, _ mutator: inout Mutator) -> Event {
        let user = "\(marker)\(batch)-\(index % 10)@example.org"
        let type = mutator.pick([EventType.view, .purchase, .addToCart, .search, .click])
        let millis = Int64(1_767_225_600_000) + Int64(mutator.int(0...(300 * 86_400))) * 1000  // during 2026
        let price: Double? = type == .purchase ? Double(mutator.int(0...100_000)) / 100 : nil
        let quantity: Int? = type == .purchase ? mutator.int(1...5) : nil
        let category: String? = mutator.chance(0.5) ? mutator.pick(["books", "toys", "home"]) : nil
        var members = [
            #""event_id":"b\#(batch)-\#(index)""#, #""user_id":"\#(user)""#, #""type":"\#(type.rawValue)""#,
            #""timestamp":"\#(RFC3339.format(millis: millis))""#,
        ]
        if let price { members.append(#""price":\#(price)"#) }
        if let quantity { members.append(#""quantity":\#(quantity)"#) }
        if let category { members.append(#""category":"\#(category)""#) }
        return Event(user: user, type: type, millis: millis, price: price, quantity: quantity, category: category, json: "{" + members.joined(separator: ",") + "}")
    }

    /// The stored events of one user equal the generated ones (pseudonym, type, time, values).
    static func checkRoundTrip(_ events: [Event], store: any EventStore, keys: KeyRing, _ report: inout HarnessReport) async throws {
        guard let user = events.first?.user else { return }
        let stored = try await store.events(for: keys.userPseudonymizer.pseudonym(for: user))
        let expected = events.map { "\($0.type) \($0.millis) \($0.price ?? -1) \($0.quantity ?? -1) \($0.category ?? "-")" }.sorted()
        let got = stored.map { "\($0.type) \($0.timestampMillis) \($0.price ?? -1) \($0.quantity ?? -1) \($0.category ?? "-")" }.sorted()
        if expected != got { report.violate("round trip of \(events.count) events differs") }
    }

    /// The byte range of line `line` (0-based) of NDJSON or of a one-element-per-line array.
    static func range(ofLine line: Int, in bytes: [UInt8]) -> (Int, Int) {
        var start = 0
        var seen = 0
        while seen < line, let newline = bytes[start...].firstIndex(of: 0x0A) {
            start = newline + 1
            seen += 1
        }
        let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
        return (start, end)
    }

    // MARK: CSV files through EventImporter

    /// `files` CSV files of `rows` rows each, most of them damaged once.
    public func csv(files: Int, rows: Int) async throws -> HarnessReport {
        var report = HarnessReport("csv")
        let started = ContinuousClock.now
        let (service, store, _) = try ingestService("csv")
        var options = ImportOptions()
        options.mapping.format = .csv
        options.validationTasks = 1
        let importer = try EventImporter(service: service, options: options)
        var mutator = Mutator(seed: seed &+ 1)
        for file in 0..<files {
            var lines = ["user_id,type,timestamp,price,quantity,category"]
            for row in 0..<rows {
                let event = Self.event(batch: file, index: row, &mutator)
                let price = event.price.map { String($0) } ?? ""
                let quantity = event.quantity.map { String($0) } ?? ""
                lines.append("\(event.user),\(event.type.rawValue),\(RFC3339.format(millis: event.millis)),\(price),\(quantity),\"\(event.category ?? "")\"")
            }
            var bytes = Array(lines.joined(separator: "\n").utf8)
            var damaged = false
            if file % 4 != 0 {
                damaged = true
                let kind = mutator.pick(["quote", "columns", "wide", "utf8", "nul", "truncate", "flip", "number", "crlf"])
                report.mutations[kind, default: 0] += 1
                let (start, end) = Self.range(ofLine: mutator.int(0...rows), in: bytes)
                var line = Array(bytes[start..<end])
                switch kind {
                case "quote": line.insert(UInt8(ascii: "\""), at: mutator.int(0...line.count))
                case "columns": line += Array(",extra".utf8)
                case "wide": line += Array(String(repeating: ",", count: 5_000).utf8)
                case "utf8": line.insert(0xFF, at: mutator.int(0...line.count))
                case "nul": line.insert(0x00, at: mutator.int(0...line.count))
                case "truncate": line = Array(line.prefix(mutator.int(0...line.count)))
                case "flip": if !line.isEmpty { line[mutator.int(0...(line.count - 1))] ^= 0x20 }
                case "number": line = Array(String(decoding: line, as: UTF8.self).replacingOccurrences(of: ",1,", with: ",1e400,").utf8) + Array(",1.8e308".utf8)
                default: line += [0x0D]
                }
                bytes.replaceSubrange(start..<end, with: line)
            }
            let path = scratch + "/file-\(file).csv"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            report.inputs += 1
            report.events += rows
            let before = try await store.eventCount()
            do {
                let result = try await importer.importFile(path, actor: "fuzz")
                let after = try await store.eventCount()
                if result.stored {
                    report.accepted += 1
                    if after - before != result.accepted { report.violate("file \(file): stored \(after - before), reported \(result.accepted)") }
                } else {
                    report.rejected += 1
                    if after != before { report.partialBatches += 1 }
                }
                if !damaged && !result.stored { report.violate("clean file \(file) rejected: \(result.problems.prefix(2))") }
                for problem in result.problems where (problem.field + problem.message).contains(Self.marker) {
                    report.violate("file \(file): a problem echoes a user ID")
                }
                if result.ignoredColumns.contains(where: { $0.contains(Self.marker) }) { report.violate("file \(file): a column name echoes a user ID") }
            } catch let error as VeilError {
                report.rejected += 1
                if try await store.eventCount() != before { report.partialBatches += 1 }
                if error.description.contains(Self.marker) { report.violate("file \(file): an error echoes a user ID") }
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    // MARK: Policy YAML

    /// `count` mutations of `policy` (the default policy's text), parsed by `PolicyLoader`.
    public func policies(_ count: Int, policy: String) throws -> HarnessReport {
        var report = HarnessReport("policy_yaml")
        let started = ContinuousClock.now
        var mutator = Mutator(seed: seed &+ 2)
        let original = Array(policy.utf8)
        let yamlDamage = [
            "budget: " + String(repeating: "[", count: 100_000), "a: &a [1]\nb: [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]",
            "dataset: !!binary AAAA", "budget:\n\ttotal_epsilon: 1", "budget: {total_epsilon: 1e400}",
            "categories: [" + String(repeating: "x, ", count: 50_000) + "y]", "ingest:\n  max_price: -1\n  earliest_event_date: 0000-01-01",
            "budget:\n  total_epsilon: 1\n  total_epsilon: 2",
        ]
        for index in 0..<count {
            var bytes: [UInt8]
            if index % 3 == 0 {
                bytes = original + Array(("\n" + mutator.pick(yamlDamage) + "\n").utf8)
            } else {
                let mutated = mutator.mutate(original, marker: Self.marker)
                bytes = mutated.bytes
                report.mutations[mutated.kind.rawValue, default: 0] += 1
            }
            report.inputs += 1
            switch PolicyLoader.parse(yaml: String(decoding: bytes, as: UTF8.self)) {
            case .success: report.accepted += 1
            case .failure(let issues):
                report.rejected += 1
                if issues.issues.isEmpty { report.violate("policy \(index): refused without an issue") }
            }
        }
        if case .failure = PolicyLoader.parse(yaml: policy) { report.violate("the unmutated policy was refused") }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    // MARK: Audit lines

    /// `count` mutations of one line of a genuine signed log, verified with the public key.
    public func auditLines(_ count: Int) async throws -> HarnessReport {
        var report = HarnessReport("audit_lines")
        let started = ContinuousClock.now
        let key = SigningKey(seed: SecretBytes(copying: (0..<32).map { UInt8(truncatingIfNeeded: Int(seed) &+ $0) }))
        let stores = try Self.stores(in: scratch + "/audit", signingKey: key)
        let ledger = BudgetService(policy: Policy(), store: stores.ledger, audit: stores.audit)
        for (index, mechanism) in [PrivacyMechanism.pureEpsilon(epsilon: 0.5), .gaussian(noiseMultiplier: 3, count: 2)].enumerated() {
            _ = try await ledger.reserve(BudgetRequest(principal: "p\(index)", role: .analyst, purpose: "fuzz", mechanism: mechanism))
        }
        for index in 0..<6 { _ = try await stores.audit.record(actor: "fuzz", action: AuditAction(rawValue: "test.note")!, details: ["n": .int(Int64(index))]) }
        var lines: [String] = []
        try await stores.audit.forEachRecord { lines += $0.map(\.line) }
        let original = lines.map { AuditLine.parse($0) }
        var mutator = Mutator(seed: seed &+ 3)
        for index in 0..<count {
            var damaged = lines
            let target = mutator.int(0...(lines.count - 1))
            let mutated = mutator.mutate(Array(lines[target].utf8), marker: Self.marker)
            damaged[target] = String(decoding: mutated.bytes, as: UTF8.self)
            report.mutations[mutated.kind.rawValue, default: 0] += 1
            report.inputs += 1
            let result = AuditVerifier.verify(
                lines: damaged, publicKey: key.publicKey, checkpoint: nil, recomputeEpsilon: AuditAccountant.recomputation())
            if result.failure == nil {
                report.accepted += 1
                // Only a change that leaves every record's body, hash and signature as signed may pass.
                if AuditLine.parse(damaged[target]) != original[target] { report.violate("audit \(index): a changed record verified") }
            } else {
                report.rejected += 1
            }
        }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    // MARK: Key files

    /// `count` damaged audit public key files, loaded as an auditor would.
    public func keyFiles(_ count: Int) throws -> HarnessReport {
        var report = HarnessReport("key_files")
        let started = ContinuousClock.now
        var mutator = Mutator(seed: seed &+ 4)
        let valid = Array((Data((0..<32).map { UInt8($0) }).base64EncodedString() + "\n").utf8)
        let path = scratch + "/fuzz.pub"
        for index in 0..<count {
            var bytes = valid
            switch index % 4 {
            case 0: bytes = mutator.mutate(valid, marker: Self.marker).bytes
            case 1: bytes = Array(valid.prefix(mutator.int(0...valid.count)))
            case 2: bytes = valid + [UInt8](repeating: UInt8(ascii: "A"), count: mutator.pick([4, 1_000, 2_000_000]))
            default: bytes[mutator.int(0...(valid.count - 1))] = UInt8(truncatingIfNeeded: mutator.int(0...255))
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            report.inputs += 1
            var trimmed = bytes
            while let last = trimmed.last, last == 0x0A || last == 0x0D { trimmed.removeLast() }
            let decodable = Data(base64Encoded: Data(trimmed))?.count == 32
            do {
                _ = try KeyRing.loadAuditPublicKey(path: path)
                report.accepted += 1
                if !decodable { report.violate("key \(index): accepted a file that is not 32 bytes of base64") }
            } catch let error as VeilError {
                report.rejected += 1
                if decodable { report.violate("key \(index): refused a valid key file") }
                if error.code != .keyFile { report.violate("key \(index): wrong error code \(error.code)") }
                if trimmed.count >= 8, error.description.contains(String(decoding: trimmed, as: UTF8.self)) {
                    report.violate("key \(index): the error echoes the file's content")
                }
            }
        }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    // MARK: Request bodies

    /// The valid bodies of the JSON endpoints, and how the gateway decodes each. Anything thrown that is
    /// not an `APIError` or a `VeilError` ends the run as a broken invariant.
    static let bodies: [(name: String, json: String, decode: @Sendable ([UInt8]) throws -> Void)] = [
        ("query", #"{"metric":"sum","value":"revenue","group_by":"category","where":{"type":["purchase"]},"from":"2026-11-01","epsilon":0.5}"#,
         { _ = try JSONRequest.decode(QuerySpec.self, from: $0) }),
        ("training", #"{"task":"purchase","epsilon":1,"epochs":2,"cutoff":"2026-04-17","hidden_sizes":[8],"model":"mlp"}"#,
         { _ = try JSONRequest.decode(TrainingRequest.self, from: $0) }),
        ("predict", #"{"task":"churn","subjects":[{"user_id":"fuzz-u1@example.org"},{"pseudonym":"0123456789abcdef0123456789abcdef"}]}"#,
         { _ = try JSONRequest.decode(PredictionRequest.self, from: $0) }),
    ]

    /// `count` damaged request bodies, decoded as the gateway decodes them (`JSONRequest`); the
    /// invariant is on the answer a client gets (`APIError`), which must not echo the input.
    public func requestBodies(_ count: Int) throws -> HarnessReport {
        var report = HarnessReport("request_bodies")
        let started = ContinuousClock.now
        var mutator = Mutator(seed: seed &+ 5)
        for body in Self.bodies {
            do { try body.decode(Array(body.json.utf8)) } catch { report.violate("the valid \(body.name) body was refused: \(error)") }
        }
        for index in 0..<count {
            let body = Self.bodies[index % Self.bodies.count]
            let mutated = mutator.mutate(Array(body.json.utf8), marker: "\(Self.marker)\(index)@example.org")
            report.mutations[mutated.kind.rawValue, default: 0] += 1
            report.inputs += 1
            do {
                try body.decode(mutated.bytes)
                report.accepted += 1
                if mutated.kind == .unknownKey { report.violate("\(body.name) \(index): an unknown key was accepted") }
            } catch let error as APIError {
                report.rejected += 1
                if case .general(_, let message) = error.body, message.contains(Self.marker) {
                    report.violate("\(body.name) \(index): the answer echoes the input")
                }
            } catch let error as VeilError {
                // A rule the use case itself checks while decoding (answered 422 with this text).
                report.rejected += 1
                if error.description.contains(Self.marker) { report.violate("\(body.name) \(index): the answer echoes the input") }
            }
        }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }
}
