import ArgumentParser
import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilLedger
import VeilRuntime

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create and inspect Veil's key files.",
        subcommands: [Init.self, Show.self]
    )

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new key set: master.key, escrow.pub, escrow.secret, audit.pub, audit.secret.",
            discussion: """
                Writes each key as one line of base64; the directory gets mode 0700, secret files 0600. \
                Refuses to overwrite an existing key. Move escrow.secret off the serving host afterwards.

                Example:
                  veil keys init --dir keys
                """
        )

        @Option(help: ArgumentHelp("Directory to create the keys in (default: --keys, env VEIL_KEYS, or keys).", valueName: "dir"))
        var dir: String?

        @OptionGroup var keys: KeyOptions
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let directory = dir ?? keys.keysDirectory
            let ring = try KeyRing.initialize(directory: directory)
            await recordKeyInit(ring)
            let escrowSecretPath = (directory as NSString).appendingPathComponent(KeyFile.escrowSecret.rawValue)
            let warning = "IMPORTANT: move \(escrowSecretPath) off this host now. It re-identifies every pseudonym and belongs offline with the data-protection officer; the serving host never needs it."
            if output.json {
                try Output.json(KeysReport(ring: ring, warning: warning))
            } else {
                print("Created keys in \(directory) (epoch \(ring.epoch)).")
                print("  audit.pub  \(Data(ring.auditSigningKey.publicKey.bytes).base64EncodedString())")
                print("  escrow.pub \(Data(ring.escrowPublicKey.bytes).base64EncodedString())")
                print("")
                print(warning)
            }
            if output.json { Output.note(warning) }
        }

        /// Opens the data directory with the new keys, which binds it to them and starts its chain with
        /// `key.init`; a failure there (e.g. a directory that belongs to another key set) leaves the
        /// created keys in place and is reported as a note.
        private func recordKeyInit(_ ring: KeyRing) async {
            do {
                let opened = try await OpenedDataDirectory.open(directory: data.dataDirectory, keys: ring, clock: .system, actor: "cli")
                await opened.close()
            } catch {
                Output.note("note: key.init could not be recorded in \(data.dataDirectory): \(error)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the public keys and the current key epoch (never a secret).",
            discussion: "Example:\n  veil keys show --keys keys --json"
        )

        @OptionGroup var keys: KeyOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ring = try KeyRing.load(directory: keys.keysDirectory)
            let report = KeysReport(ring: ring, warning: nil)
            if output.json {
                try Output.json(report)
            } else {
                print("directory   \(report.directory)")
                print("epoch       \(report.epoch)")
                print("audit.pub   \(report.auditPublicKey)")
                print("escrow.pub  \(report.escrowPublicKey)")
            }
        }
    }
}

/// What `keys init` and `keys show` report: public material only.
struct KeysReport: Encodable {
    let directory: String
    let epoch: UInt32
    let auditPublicKey: String
    let escrowPublicKey: String
    let warning: String?

    init(ring: KeyRing, warning: String?) {
        directory = ring.directory
        epoch = ring.epoch
        auditPublicKey = Data(ring.auditSigningKey.publicKey.bytes).base64EncodedString()
        escrowPublicKey = Data(ring.escrowPublicKey.bytes).base64EncodedString()
        self.warning = warning
    }

    enum CodingKeys: String, CodingKey {
        case directory, epoch, warning
        case auditPublicKey = "audit_public_key"
        case escrowPublicKey = "escrow_public_key"
    }
}
