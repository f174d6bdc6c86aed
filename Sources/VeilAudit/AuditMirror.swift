import Foundation
import Synchronization
import VeilCore
import VeilCrypto

/// `<data-dir>/audit.log`: the mirror of the audit chain the store holds, in the log's JSON Lines
/// format (docs/audit.md). What an auditor copies, and what witnesses the store: opening a data
/// directory compares the two, and the mirror is never ahead of the store (records are appended only
/// after the store committed them).
///
/// Contract:
/// - `append` writes records the store sealed, continuing the mirror's head, and returns only after
///   they are written and `fsync`ed. Records at or below the head are skipped (another process wrote
///   them already); a gap, or a record at the head's seq with another hash, is refused.
/// - Safe across threads (a mutex) and processes (an exclusive `flock` while reading the head and
///   appending; readers take a shared one and never see half a line).
/// - Bytes after the last newline can only come from an append that crashed before it was synced;
///   they are cut off before the head is read. A last line that is not a record signed by the audit
///   key is refused (`integrity`), naming the file.
public final class AuditMirror: Sendable {
    /// The mirror's file name inside the data directory.
    public static let fileName = "audit.log"

    /// `<dataDirectory>/audit.log`.
    public static func path(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent(fileName)
    }

    public let path: String
    private let publicKey: SigningPublicKey
    private let file: AuditFile
    private let lock = Mutex(())

    /// Opens (creating if needed, mode 0600) the mirror at `path`, whose records must verify with
    /// `publicKey`.
    public init(path: String, publicKey: SigningPublicKey) throws {
        self.path = path
        self.publicKey = publicKey
        file = try AuditFile(path: path)
    }

    /// The head of the mirror: its last complete record, its signature checked.
    public func head() throws -> AuditHead {
        try lock.withLock { _ in try file.locked(exclusive: true) { try readHead() } }
    }

    /// Appends `records` (in seq order, as the store returned them) past the mirror's head and syncs;
    /// returns the new head. See the type's contract.
    @discardableResult
    public func append(_ records: [SealedAuditRecord]) throws -> AuditHead {
        try lock.withLock { _ in
            try file.locked(exclusive: true) {
                var head = try readHead()
                var bytes: [UInt8] = []
                for record in records {
                    if record.seq < head.seq { continue }
                    if record.seq == head.seq {
                        guard record.hash == head.hash else { throw disagreement(at: record.seq) }
                        continue
                    }
                    guard record.seq == head.seq + 1 else {
                        throw VeilError(
                            .integrity, field: path,
                            "ends at seq \(head.seq) but the next record to mirror is seq \(record.seq); nothing was appended")
                    }
                    bytes += Array(record.line.utf8)
                    bytes.append(UInt8(ascii: "\n"))
                    head = record.head
                }
                if !bytes.isEmpty { try file.append(bytes) }
                return head
            }
        }
    }

    /// The file's bytes, read under a shared lock so no half-written line is seen.
    /// Throws `notFound` when there is no file at `path`.
    public static func contents(path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw VeilError(.notFound, field: path, "no audit log here; check --data-dir / --file")
        }
        let file = try AuditFile(readingFrom: path)
        return try file.locked(exclusive: false) { try file.readAll() }
    }

    /// The head named by the last complete line, after cutting a torn tail. Called with the exclusive lock.
    private func readHead() throws -> AuditHead {
        let size = try file.size()
        let (lastLine, completeLength) = try file.lastLine(fileSize: size)
        if completeLength < size { try file.truncate(to: completeLength) }
        return try lastLine.map(verifiedHead) ?? .empty
    }

    /// The head named by the mirror's last line, after checking the line's shape and signature.
    private func verifiedHead(_ bytes: [UInt8]) throws -> AuditHead {
        let damaged = { (reason: String) in
            VeilError(
                .integrity, field: self.path,
                "the last record \(reason). Run `veil audit verify --file \(self.path)`; if the database is intact, move the file aside and it is written again from the database at the next start")
        }
        guard case .success(let line) = AuditLine.parse(String(decoding: bytes, as: UTF8.self)) else {
            throw damaged("is not a well-formed audit line")
        }
        guard publicKey.isValidSignature(line.signature, for: line.hash) else {
            throw damaged("has a signature that does not verify with this host's audit key (audit.pub)")
        }
        guard case .success(let body) = AuditBody.parse(line.body) else {
            throw damaged("has a malformed body")
        }
        return AuditHead(seq: body.seq, hash: line.hash)
    }

    private func disagreement(at seq: UInt64) -> VeilError {
        VeilError(
            .integrity, field: path,
            "holds another record at seq \(seq) than the database: the mirror and the database tell different stories; nothing was appended")
    }
}
