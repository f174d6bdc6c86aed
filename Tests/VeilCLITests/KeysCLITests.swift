import Foundation
import Testing

@Suite struct KeysCLITests {
    @Test func keysInitWarnsAboutEscrowAndRefusesToOverwrite() throws {
        let scratch = try VeilProcess.scratchDirectory()
        let first = try VeilProcess.run(["keys", "init", "--dir", "k"], in: scratch)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("move k/escrow.secret off this host"))
        let second = try VeilProcess.run(["keys", "init", "--dir", "k"], in: scratch)
        #expect(second.status != 0)
        #expect(second.stderr.contains("k/master.key"))
        #expect(second.stderr.contains("refusing to overwrite"))
    }

    @Test func keysShowPrintsPublicKeysAndEpochButNoSecret() throws {
        let scratch = try VeilProcess.scratchDirectory()
        _ = try VeilProcess.run(["keys", "init", "--dir", "k"], in: scratch)
        let shown = try VeilProcess.run(["keys", "show", "--json"], in: scratch, environment: ["VEIL_KEYS": "k"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        #expect(report?["epoch"] as? Int == 1)
        let auditPublic = try String(contentsOf: scratch.appendingPathComponent("k/audit.pub"), encoding: .utf8)
        #expect(report?["audit_public_key"] as? String == auditPublic.trimmingCharacters(in: .newlines))
        for secret in ["master.key", "escrow.secret", "audit.secret"] {
            let text = try String(contentsOf: scratch.appendingPathComponent("k/\(secret)"), encoding: .utf8)
            #expect(!shown.stdout.contains(text.trimmingCharacters(in: .newlines)), "\(secret) leaked")
        }
    }

    @Test func pseudonymizePrintsOnePidPerLineAndJSON() throws {
        let scratch = try VeilProcess.scratchDirectory()
        _ = try VeilProcess.run(["keys", "init", "--dir", "keys"], in: scratch)
        let text = try VeilProcess.run(["pseudonymize", "alice", "bob", "alice"], in: scratch)
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0] == lines[2] && lines[0] != lines[1])
        #expect(lines.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
        let json = try VeilProcess.run(["pseudonymize", "--json", "alice"], in: scratch)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(report?["pseudonyms"] as? [String] == [lines[0]])
        #expect(!json.stdout.contains("alice"))
    }

    /// IDs from stdin (`-`) or a file give the pseudonyms the arguments give, in input order, and never
    /// appear in any output; a bad line is named by its number, never by its value.
    @Test func pseudonymizeReadsIDsFromStdinOrAFileSoTheyStayOutOfArgv() throws {
        let scratch = try VeilProcess.scratchDirectory()
        _ = try VeilProcess.run(["keys", "init", "--dir", "keys"], in: scratch)
        let ids = ["alice@example.com", "bob@example.com", "alice@example.com", "carol é@example.com"]
        let expected = try VeilProcess.run(["pseudonymize"] + ids, in: scratch)
        #expect(expected.status == 0 && expected.stdout.split(separator: "\n").count == 4, "\(expected.stderr)")
        let input = Data((ids[0..<2].joined(separator: "\n") + "\r\n\n" + ids[2...].joined(separator: "\n") + "\n").utf8)
        let piped = try VeilProcess.run(["pseudonymize", "-"], in: scratch, stdin: input)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout == expected.stdout)
        let file = scratch.appendingPathComponent("ids.txt")
        try input.write(to: file)
        let fromFile = try VeilProcess.run(["pseudonymize", "--from", file.path, "--json"], in: scratch)
        let report = try JSONSerialization.jsonObject(with: Data(fromFile.stdout.utf8)) as? [String: Any]
        #expect(report?["pseudonyms"] as? [String] == expected.stdout.split(separator: "\n").map(String.init))
        for result in [piped, fromFile] { #expect(!(result.stdout + result.stderr).contains("@example.com")) }

        let tooLong = String(repeating: "x", count: 257)
        let refused = try VeilProcess.run(["pseudonymize", "-"], in: scratch, stdin: Data("ok-id\n\(tooLong)\n".utf8))
        #expect(refused.status != 0 && refused.stdout.isEmpty)
        #expect(refused.stderr.contains("line 2: must be between 1 and 256 bytes of UTF-8"), "\(refused.stderr)")
        #expect(!refused.stderr.contains(tooLong) && !refused.stderr.contains("ok-id"))
        let empty = try VeilProcess.run(["pseudonymize", "-"], in: scratch, stdin: Data("\n".utf8))
        #expect(empty.status != 0 && empty.stderr.contains("stdin: holds no ID"), "\(empty.stderr)")
        let mixed = try VeilProcess.run(["pseudonymize", "-", "alice"], in: scratch)
        #expect(mixed.status != 0 && mixed.stderr.contains("give it alone"), "\(mixed.stderr)")
    }

    @Test func loadingErrorsNameTheFileAndExitNonZero() throws {
        let scratch = try VeilProcess.scratchDirectory()
        _ = try VeilProcess.run(["keys", "init", "--dir", "keys"], in: scratch)
        chmod(scratch.appendingPathComponent("keys/audit.secret").path, 0o644)
        let result = try VeilProcess.run(["pseudonymize", "x"], in: scratch)
        #expect(result.status != 0)
        #expect(result.stderr.contains("keys/audit.secret"))
        #expect(result.stderr.contains("chmod 600"))
        #expect(result.stdout.isEmpty)
    }

    @Test func everyCommandHasHelpWithAnExample() throws {
        for command in [
            ["keys", "init"], ["keys", "show"], ["pseudonymize"], ["audit", "verify"], ["audit", "checkpoint"], ["audit", "export"],
            ["db", "recover"],
        ] {
            let result = try VeilProcess.run(command + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("Example"), "\(command)")
        }
    }
}
