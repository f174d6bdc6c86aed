import ArgumentParser
import VeilCore
import VeilCrypto

struct PseudonymizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pseudonymize",
        abstract: "Print the pseudonym of each user ID (or session ID with --session).",
        discussion: """
            pid = BLAKE2b-128(key = KDF(master, epoch, "veil-pid"), message = the ID's UTF-8 bytes), \
            as 32 lowercase hex characters (docs/crypto.md). The IDs are not stored or logged.

            Example:
              veil pseudonymize alice@example.com bob@example.com --json
            """
    )

    @Argument(help: ArgumentHelp("User IDs, exactly as the storefront sends them.", valueName: "id"))
    var ids: [String]

    @Flag(help: "Treat the IDs as session IDs (KDF context veil-sid).")
    var session = false

    @OptionGroup var keys: KeyOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !ids.isEmpty else { throw ValidationError("give at least one ID to pseudonymize") }
    }

    func run() async throws {
        let ring = try KeyRing.load(directory: keys.keysDirectory)
        let pseudonymizer = session ? ring.sessionPseudonymizer : ring.userPseudonymizer
        let pids = ids.map { pseudonymizer.pseudonym(for: $0).hex }
        if output.json {
            try Output.json(PseudonymReport(epoch: ring.epoch, context: pseudonymizer.context.rawValue, pseudonyms: pids))
        } else {
            pids.forEach { print($0) }
        }
    }
}

/// `pseudonymize --json`: the pseudonyms in input order. The raw IDs are deliberately not echoed.
struct PseudonymReport: Encodable {
    let epoch: UInt32
    let context: String
    let pseudonyms: [String]
}
