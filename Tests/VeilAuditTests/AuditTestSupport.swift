import Foundation
import VeilAudit
import VeilCore
import VeilCrypto

/// A scratch directory removed when the value is released by the test.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("veil-audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

/// A log of `count` records in `directory` signed with `key`, and its lines.
func writeLog(count: Int, key: SigningKey, in directory: ScratchDirectory) throws -> (log: AuditLog, lines: [String]) {
    let log = try AuditLog(dataDirectory: directory.path, signingKey: key)
    for index in 0..<count {
        try log.record(actor: "cli", action: .named("test.event"), details: ["n": .int(Int64(index)), "note": "fine"])
    }
    return (log, try readLines(log.path))
}

func readLines(_ path: String) throws -> [String] {
    AuditVerifier.lines(of: try AuditLog.contents(path: path))
}

func verify(_ lines: [String], _ key: SigningKey, checkpoint: AuditCheckpoint? = nil) -> AuditVerification {
    AuditVerifier.verify(lines: lines, publicKey: key.publicKey, checkpoint: checkpoint)
}

extension AuditAction {
    /// TEST ONLY. An action name of the test's own (checked: a malformed name stops the test).
    static func named(_ name: String) -> AuditAction {
        guard let action = AuditAction(rawValue: name) else { preconditionFailure("\(name) is not a well-formed action") }
        return action
    }
}
