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
