import ArgumentParser
import Foundation
import VeilCore
import VeilCrypto
import VeilRuntime
import VeilStore

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Erase a data subject: delete the user's events and escrowed identity.",
        discussion: """
            Pseudonymises the user ID with the current key epoch, deletes every event and the vault row \
            of that pseudonym in one transaction, and reports the counts. Erasing an unknown user \
            succeeds with zero counts. The raw ID is not stored or printed (mind your shell history).

            Example:
              veil erase --user alice@example.com --json
            """
    )

    @Option(help: ArgumentHelp("The user ID exactly as the storefront sends it.", valueName: "id"))
    var user: String

    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let report = try await service.withContext { try await $0.subjectEraser().erase(userID: user, actor: service.principal) }
        if output.json {
            try Output.json(report)
        } else {
            print("erased \(report.pseudonym.hex) (epoch \(report.epoch)): \(report.eventsDeleted) events, \(report.vaultRowsDeleted) vault rows")
        }
    }
}

struct ReidentifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reidentify",
        abstract: "Print the raw user ID behind a pseudonym (data-protection officer, offline).",
        discussion: """
            Reads the pseudonym's vault row and sealed data key from the data directory and opens them \
            with the escrow secret key. The escrow secret is never kept on the serving host: bring it on \
            removable media for the duration of the request. Every re-identification is written to the \
            signed audit log (pseudonym and actor, never the raw ID) before the ID is printed. Prints the \
            raw ID alone on stdout.

            Example:
              veil reidentify --pseudonym 3f0c…e1 --escrow-secret /media/dpo/escrow.secret --data-dir veil-data
            """
    )

    @Option(help: ArgumentHelp("The pseudonym, 32 hex characters.", valueName: "pid"))
    var pseudonym: String

    @Option(help: ArgumentHelp("The escrow secret key file (mode 0600).", valueName: "file"))
    var escrowSecret: String

    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard Pseudonym(hex: pseudonym) != nil else { throw ValidationError("--pseudonym must be 32 hex characters") }
    }

    func run() async throws {
        let pid = Pseudonym(hex: pseudonym)!
        guard FileManager.default.fileExists(atPath: service.data.dataDirectory) else {
            throw VeilError(
                .notFound, field: service.data.dataDirectory, "no data directory here; point --data-dir at a copy of the data directory")
        }
        // escrow.pub in the key directory, when present, confirms the secret is the right one.
        let secret = try KeyRing.loadEscrowSecret(path: escrowSecret, publicKeyDirectory: service.keys.keysDirectory)
        let rawID = try await service.withContext { try await $0.reidentifier(escrowSecret: secret).reidentify(pid, actor: service.principal) }
        if output.json {
            try Output.json(ReidentifyReport(pseudonym: pid.hex, userID: rawID))
        } else {
            print(rawID)
        }
    }
}

/// `veil reidentify --json`.
struct ReidentifyReport: Encodable {
    let pseudonym: String
    let userID: String

    enum CodingKeys: String, CodingKey {
        case pseudonym
        case userID = "user_id"
    }
}
