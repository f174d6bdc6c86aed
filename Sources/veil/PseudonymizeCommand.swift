import ArgumentParser
import Foundation
import VeilCore
import VeilCrypto

struct PseudonymizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pseudonymize",
        abstract: "Print the pseudonym of each user ID (or session ID with --session).",
        discussion: """
            pid = BLAKE2b-128(key = KDF(master, epoch, "veil-pid"), message = the ID's UTF-8 bytes), \
            as 32 lowercase hex characters (docs/crypto.md). The IDs are not stored or logged.

            IDs given as arguments are visible to every user of the machine (ps, /proc) and land in \
            your shell history: give `-` to read them from stdin, or --from FILE, one ID per line \
            (a trailing CR is dropped, blank lines are skipped). Pseudonyms are printed in input order; \
            an ID outside 1–256 bytes is refused naming its line, never its value.

            Examples:
              veil pseudonymize alice@example.com bob@example.com --json
              printf '%s\\n' "$CUSTOMER_ID" | veil pseudonymize -
              veil pseudonymize --from customers.txt --json
            """
    )

    @Argument(
        help: ArgumentHelp("User IDs, exactly as the storefront sends them; `-` alone reads them from stdin.", valueName: "id"))
    var ids: [String] = []

    @Option(help: ArgumentHelp("Read the IDs from this file, one per line (`-`: stdin).", valueName: "file"))
    var from: String?

    @Flag(help: "Treat the IDs as session IDs (KDF context veil-sid).")
    var session = false

    @OptionGroup var keys: KeyOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard ids.isEmpty != (from == nil) else {
            throw ValidationError("give the IDs as arguments, `-` (stdin) or --from FILE — exactly one of them")
        }
        if ids.contains("-") && ids.count > 1 { throw ValidationError("`-` reads every ID from stdin: give it alone") }
    }

    func run() async throws {
        let input = try readIDs()
        let ring = try KeyRing.load(directory: keys.keysDirectory)
        let pseudonymizer = session ? ring.sessionPseudonymizer : ring.userPseudonymizer
        let pids = input.map { pseudonymizer.pseudonym(for: $0).hex }
        if output.json {
            try Output.json(PseudonymReport(epoch: ring.epoch, context: pseudonymizer.context.rawValue, pseudonyms: pids))
        } else {
            pids.forEach { print($0) }
        }
    }

    /// The IDs from the arguments, stdin or the file, each checked against the ID rule.
    private func readIDs() throws -> [String] {
        let source = from ?? (ids == ["-"] ? "-" : nil)
        guard let source else {
            for (index, id) in ids.enumerated() { try UserID.validate(id, field: "argument \(index + 1)") }
            return ids
        }
        let data: Data
        if source == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: source) else {
                throw VeilError(.notFound, field: "--from", "cannot read \(source)")
            }
            data = contents
        }
        var found: [String] = []
        // Lines are split on the byte 0x0A (a String would keep "\r\n" together as one character).
        for (offset, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let bytes = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            guard !bytes.isEmpty else { continue }
            guard let id = String(validating: bytes, as: UTF8.self) else {
                throw VeilError(.invalidInput, field: "line \(offset + 1)", "must be UTF-8 text")
            }
            try UserID.validate(id, field: "line \(offset + 1)")
            found.append(id)
        }
        guard !found.isEmpty else { throw VeilError(.invalidInput, field: source == "-" ? "stdin" : "--from", "holds no ID") }
        return found
    }
}

/// `pseudonymize --json`: the pseudonyms in input order. The raw IDs are deliberately not echoed.
struct PseudonymReport: Encodable {
    let epoch: UInt32
    let context: String
    let pseudonyms: [String]
}
