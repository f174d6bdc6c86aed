import ArgumentParser
import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilLedger
import VeilRuntime

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify, checkpoint and export the signed audit chain (kept in the database, mirrored in <data-dir>/audit.log).",
        discussion: "The format is in docs/audit.md; scripts/verify_audit.py verifies an export independently with PyNaCl.",
        subcommands: [Verify.self, Checkpoint.self, Export.self, Log.self]
    )

    /// `--public-key`: the audit public key an auditor holds (default `<keys>/audit.pub`).
    struct PublicKeyOptions: ParsableArguments {
        @Option(help: ArgumentHelp("The audit public key file (default: <keys>/audit.pub).", valueName: "file"))
        var publicKey: String?

        @OptionGroup var keys: KeyOptions

        var path: String { publicKey ?? (keys.keysDirectory as NSString).appendingPathComponent(KeyFile.auditPublic.rawValue) }

        func load() throws -> SigningPublicKey { try KeyRing.loadAuditPublicKey(path: path) }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the chain: hashes, signatures, seq, cumulative ε, model ↔ spend links, the ledger, the mirror; exit status 1 naming the first failure.",
            discussion: """
                Needs only the audit public key. Without --file, verifies the chain the database holds, \
                checks that the ledger's spends are its budget.spend records one for one, and says whether \
                <data-dir>/audit.log (its mirror) agrees. With --file, verifies a log file on its own (an \
                export, or a copy of audit.log). With --checkpoint, also fails when the chain was truncated \
                or rewritten behind a checkpoint taken earlier with `veil audit checkpoint`.

                Examples:
                  veil audit verify --json
                  veil audit verify --file audit-copy.log --public-key keys/audit.pub --checkpoint cp.json
                """
        )

        @Option(help: ArgumentHelp("Verify this log file instead of the database's chain.", valueName: "file"))
        var file: String?

        @Option(help: ArgumentHelp("A checkpoint JSON file from `veil audit checkpoint`.", valueName: "file"))
        var checkpoint: String?

        @OptionGroup var key: PublicKeyOptions
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let publicKey = try key.load()
            let checkpointValue = try checkpoint.map { source in
                guard let data = FileManager.default.contents(atPath: source) else {
                    throw VeilError(.notFound, field: source, "cannot read the checkpoint file")
                }
                return try AuditCheckpoint.decode(data, source: source)
            }
            if let file {
                let result = try AuditService.verifyFile(path: file, publicKey: publicKey, checkpoint: checkpointValue)
                try report(result, failure: result.failure.map(Self.describe), source: file)
                if !result.isValid { throw ExitCode(1) }
                return
            }
            let opened = try await OpenedDataDirectory.open(
                directory: data.dataDirectory, database: try data.databaseURL(), auditPublicKey: publicKey, keyPath: key.path)
            let service = AuditService(
                chain: opened.stores.audit, ledger: opened.stores.ledger, settings: opened.stores.settings, mirrorPath: opened.mirror.path)
            let result = try await service.verify(publicKey: publicKey, checkpoint: checkpointValue)
            await opened.close()
            if output.json {
                try Output.json(result)
            } else {
                try report(result.chain, failure: result.failureDescription, source: "the chain in \(opened.stores.location)")
                if result.chain.isValid {
                    print("ledger     \(result.ledger.note)")
                    print("mirror     \(result.mirror.path): \(result.mirror.note)")
                }
            }
            if !result.isValid { throw ExitCode(1) }
        }

        private func report(_ result: AuditVerification, failure: String?, source: String) throws {
            if output.json {
                try Output.json(result)
            } else if let failure {
                print("FAILED \(source): \(failure)")
                print("records verified before the failure: \(result.recordsChecked)")
            } else {
                print("OK \(source)")
                print("records    \(result.recordsChecked)")
                print("head seq   \(result.head.seq)")
                print("head hash  \(result.head.hashHex)")
                if let seq = result.checkpointSeq { print("checkpoint seq \(seq) matches") }
                print("note       \(result.epsilon.note)")
                print("models     \(result.linkage.note)")
            }
        }

        private static func describe(_ failure: AuditFailure) -> String {
            let place = [failure.line.map { "line \($0)" }, failure.seq.map { "seq \($0)" }].compactMap { $0 }
            return "\(place.joined(separator: ", ")): \(failure.reason)"
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the chain (ε and ledger included), then print a signed checkpoint of its head (JSON; one line, or pretty with --json).",
            discussion: """
                Refuses, signing nothing, when the chain fails any check of `veil audit verify`, the \
                recomputed cumulative ε and the ledger included. \
                Signature: Ed25519 with audit.secret over "veil-audit-checkpoint\\n<seq>\\n<hash hex>". \
                Keep checkpoints somewhere the serving host cannot write; `veil audit verify --checkpoint` \
                then detects truncation or rollback.

                Example:
                  veil audit checkpoint > checkpoints/$(date +%F).json
                """
        )

        @OptionGroup var data: DataOptions
        @OptionGroup var keys: KeyOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ring = try KeyRing.load(directory: keys.keysDirectory)
            let opened = try await OpenedDataDirectory.open(
                directory: data.dataDirectory, database: try data.databaseURL(), keys: ring, clock: .system, actor: "cli")
            let result = await Result {
                try await AuditService(
                    chain: opened.stores.audit, ledger: opened.stores.ledger, settings: opened.stores.settings, mirrorPath: opened.mirror.path)
                    .checkpoint(signingKey: ring.auditSigningKey)
            }
            await opened.close()
            let checkpoint = try result.get()
            if output.json {
                try Output.json(checkpoint)
            } else {
                // One line of compact JSON: still a valid checkpoint file when redirected.
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(checkpoint), as: UTF8.self))
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the audit chain from the database, in the log file format, to stdout (for auditors).",
            discussion: """
                The same bytes <data-dir>/audit.log holds once it is up to date. With --since SEQ, only \
                the records after SEQ: appended to a copy holding records 1…SEQ they give the whole chain \
                again. Needs the audit public key (the data directory is checked against it first).

                Examples:
                  veil audit export > audit-$(date +%F).log
                  veil audit export --since 1200 >> audit-copy.log
                """
        )

        @Option(help: ArgumentHelp("Only the records after this seq (as GET /v1/audit?since=).", valueName: "seq"))
        var since: UInt64?

        @OptionGroup var key: PublicKeyOptions
        @OptionGroup var data: DataOptions

        func run() async throws {
            let opened = try await OpenedDataDirectory.open(
                directory: data.dataDirectory, database: try data.databaseURL(), auditPublicKey: try key.load(), keyPath: key.path)
            let bytes = await Result { try await AuditExport(chain: opened.stores.audit).bytes(since: since) }
            await opened.close()
            FileHandle.standardOutput.write(Data(try bytes.get()))
        }
    }
}

extension AuditCommand {
    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the audit records readably: seq, time, actor, action and details, oldest first.",
            discussion: """
                Reads the chain in the database (checked against the audit public key when opened); \
                `veil audit verify` checks hashes and signatures. docs/audit.md lists every action and its \
                details. With --json: one array of {seq, time, actor, action, details}.

                Examples:
                  veil audit log --action model.approve
                  veil audit log --since 2026-11-01 --json
                """
        )

        @Option(help: ArgumentHelp("Only records of this action (e.g. budget.spend, model.approve).", valueName: "action"))
        var action: String?

        @Option(help: ArgumentHelp("Only records at or after this time: YYYY-MM-DD (UTC) or RFC 3339.", valueName: "time"))
        var since: String?

        @OptionGroup var key: PublicKeyOptions
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let action {
                do { _ = try AuditFilter.action(named: action, field: "--action") } catch let error as VeilError {
                    throw ValidationError(error.description)
                }
            }
            if let since, CLIDates.millis(since) == nil {
                throw ValidationError("--since: must be a date (YYYY-MM-DD, UTC) or an RFC 3339 time")
            }
        }

        func run() async throws {
            let filter = AuditFilter(
                action: try action.map { try AuditFilter.action(named: $0, field: "--action") }, sinceMillis: since.flatMap(CLIDates.millis))
            let opened = try await OpenedDataDirectory.open(
                directory: data.dataDirectory, database: try data.databaseURL(), auditPublicKey: try key.load(), keyPath: key.path)
            let entries = await Result { try await AuditListing(chain: opened.stores.audit).entries(filter) }
            await opened.close()
            let listed = try entries.get()
            if output.json {
                try Output.json(listed)
                return
            }
            if listed.isEmpty { print("no audit records match") }
            for entry in listed {
                print("\(entry.seq)  \(entry.time)  \(entry.actor)  \(entry.action)  \(Self.text(entry.details))")
            }
        }

        /// `key=value` pairs in key order; objects and arrays as compact JSON.
        static func text(_ details: [String: JSONValue]) -> String {
            details.keys.sorted().map { key in
                let value = details[key]!
                switch value {
                case .string(let text): return "\(key)=\(text)"
                default: return "\(key)=\(Output.compactJSON(value))"
                }
            }.joined(separator: " ")
        }
    }
}

extension Result where Failure == any Error {
    /// The outcome of `body`, caught (so cleanup can run before it is rethrown).
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
