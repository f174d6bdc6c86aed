import ArgumentParser
import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilLedger

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify, checkpoint and export the signed audit log (<data-dir>/audit.log).",
        discussion: "The format is in docs/audit.md; scripts/verify_audit.py verifies it independently with PyNaCl.",
        subcommands: [Verify.self, Checkpoint.self, Export.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record's hash chain, signature and seq; exit status 1 naming the first bad record.",
            discussion: """
                Needs only the audit public key. With --checkpoint, also fails when the log was truncated or \
                rewritten behind a checkpoint taken earlier with `veil audit checkpoint`.

                Example:
                  veil audit verify --file audit.log --public-key keys/audit.pub --checkpoint cp.json --json
                """
        )

        @Option(help: ArgumentHelp("The log to verify (default: <data-dir>/audit.log).", valueName: "file"))
        var file: String?

        @Option(help: ArgumentHelp("The audit public key file (default: <keys>/audit.pub).", valueName: "file"))
        var publicKey: String?

        @Option(help: ArgumentHelp("A checkpoint JSON file from `veil audit checkpoint`.", valueName: "file"))
        var checkpoint: String?

        @OptionGroup var data: DataOptions
        @OptionGroup var keys: KeyOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let audit = file.map { AuditService(path: $0) } ?? AuditService(dataDirectory: data.dataDirectory)
            let path = audit.path
            let key = try KeyRing.loadAuditPublicKey(
                path: publicKey ?? (keys.keysDirectory as NSString).appendingPathComponent(KeyFile.auditPublic.rawValue))
            let checkpointValue = try checkpoint.map { source in
                guard let data = FileManager.default.contents(atPath: source) else {
                    throw VeilError(.notFound, field: source, "cannot read the checkpoint file")
                }
                return try AuditCheckpoint.decode(data, source: source)
            }
            let result = try audit.verify(publicKey: key, checkpoint: checkpointValue)
            if output.json {
                try Output.json(result)
            } else if let failure = result.failure {
                let place = [failure.line.map { "line \($0)" }, failure.seq.map { "seq \($0)" }].compactMap { $0 }
                print("FAILED \(path): \(place.joined(separator: ", ")): \(failure.reason)")
                print("records verified before the failure: \(result.recordsChecked)")
            } else {
                print("OK \(path)")
                print("records    \(result.recordsChecked)")
                print("head seq   \(result.head.seq)")
                print("head hash  \(result.head.hashHex)")
                if let seq = result.checkpointSeq { print("checkpoint seq \(seq) matches") }
                print("note       \(result.epsilon.note)")
            }
            if !result.isValid { throw ExitCode(1) }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the log (ε included), then print a signed checkpoint of its head (JSON; one line, or pretty with --json).",
            discussion: """
                Refuses, signing nothing, when the log fails any check of `veil audit verify`, the \
                recomputed cumulative ε included. \
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
            let checkpoint = try AuditService(dataDirectory: data.dataDirectory).checkpoint(signingKey: ring.auditSigningKey)
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
            abstract: "Print the audit log, byte for byte, to stdout (for auditors).",
            discussion: """
                With --since SEQ, the byte-exact rest of the log after record SEQ: appended to a copy \
                holding records 1…SEQ it gives the whole log again.

                Examples:
                  veil audit export > audit-$(date +%F).log
                  veil audit export --since 1200 >> audit-copy.log
                """
        )

        @Option(help: ArgumentHelp("The log to export (default: <data-dir>/audit.log).", valueName: "file"))
        var file: String?

        @Option(help: ArgumentHelp("Only the records after this seq (as GET /v1/audit?since=).", valueName: "seq"))
        var since: UInt64?

        @OptionGroup var data: DataOptions

        func run() async throws {
            let export = file.map { AuditExport(path: $0) } ?? AuditExport(dataDirectory: data.dataDirectory)
            FileHandle.standardOutput.write(Data(try export.bytes(since: since)))
        }
    }
}
