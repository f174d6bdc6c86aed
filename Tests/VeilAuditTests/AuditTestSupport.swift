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

/// TEST ONLY. A log written as Veil writes `audit.log`, without a store in between: each record sealed
/// by the real `AuditSigner` after the mirror's head and appended by the real `AuditMirror`. One writer
/// at a time (concurrent writers are the store's business: `VeilStoreContract`).
final class TestLog: Sendable {
    let mirror: AuditMirror
    private let signer: AuditSigner

    init(path: String, signingKey: SigningKey, clock: WallClock = .system) throws {
        mirror = try AuditMirror(path: path, publicKey: signingKey.publicKey)
        signer = AuditSigner(signingKey: signingKey, clock: clock)
    }

    convenience init(dataDirectory: String, signingKey: SigningKey) throws {
        try self.init(path: AuditMirror.path(dataDirectory: dataDirectory), signingKey: signingKey)
    }

    var path: String { mirror.path }

    @discardableResult
    func record(actor: String, action: AuditAction, details: [String: JSONValue]) throws -> UInt64 {
        let record = try signer.seal(AuditDraft(actor: actor, action: action, details: details), after: try mirror.head())
        try mirror.append([record])
        return record.seq
    }

    func head() throws -> AuditHead { try mirror.head() }
}

/// A log of `count` records in `directory` signed with `key`, and its lines.
func writeLog(count: Int, key: SigningKey, in directory: ScratchDirectory) throws -> (log: TestLog, lines: [String]) {
    let log = try TestLog(dataDirectory: directory.path, signingKey: key)
    for index in 0..<count {
        try log.record(actor: "cli", action: .named("test.event"), details: ["n": .int(Int64(index)), "note": "fine"])
    }
    return (log, try readLines(log.path))
}

func readLines(_ path: String) throws -> [String] {
    AuditVerifier.lines(of: try AuditMirror.contents(path: path))
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
