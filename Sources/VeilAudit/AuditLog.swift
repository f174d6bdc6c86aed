import Foundation
import Synchronization
import VeilCore
import VeilCrypto

/// The signed, hash-chained, append-only audit log: `<data-dir>/audit.log` in JSON Lines
/// (format in `docs/audit.md`).
///
/// Contract:
/// - `record` returns only after the new line is written and `fsync`ed; its seq is the previous + 1.
/// - Safe for concurrent callers in one process (a mutex) and across processes (an exclusive `flock`
///   while appending). When the file has changed since this instance last wrote, the tail is re-read
///   (and its last line's signature checked) before the next seq and hash are chosen.
/// - Opening reads the tail to recover the last seq and hash, refusing a log whose last line does not
///   verify with this key. Bytes after the last newline can only come from a write that crashed before
///   it was synced (so was never acknowledged); they are cut off before the next append.
public final class AuditLog: AuditRecording {
    /// The log's file name inside the data directory.
    public static let fileName = "audit.log"

    /// `<dataDirectory>/audit.log`.
    public static func path(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent(fileName)
    }

    public let path: String
    private let signingKey: SigningKey
    private let clock: WallClock
    private let file: AuditFile
    /// The head this instance knows, and the file size it had then (-1: unknown, re-read).
    private let state: Mutex<(head: AuditHead, size: Int64)>

    /// Opens (creating if needed) the log at `path`, signing new records with `signingKey`.
    /// `clock` supplies record times (tests pass a fixed one).
    public init(path: String, signingKey: SigningKey, clock: WallClock = .system) throws {
        self.path = path
        self.signingKey = signingKey
        self.clock = clock
        file = try AuditFile(path: path)
        state = Mutex((head: .empty, size: -1))
        _ = try head()
    }

    /// Opens `<dataDirectory>/audit.log`, creating the directory (mode 0700) if needed.
    public convenience init(dataDirectory: String, signingKey: SigningKey, clock: WallClock = .system) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw VeilError(.unavailable, field: dataDirectory, "cannot create the data directory")
        }
        try self.init(path: Self.path(dataDirectory: dataDirectory), signingKey: signingKey, clock: clock)
    }

    /// Appends one signed record and returns its seq once it is on disk.
    ///
    /// `actor` is a token name or `cli`; `details` must hold no raw ID or secret. Throws
    /// `invalidInput` for a bad actor or details,
    /// `unavailable` when the disk fails, `integrity` when the log's tail does not verify.
    @discardableResult
    public func record(actor: String, action: AuditAction, details: [String: JSONValue]) throws -> UInt64 {
        guard !actor.isEmpty, actor.count <= 200, !actor.contains(where: \.isNewline) else {
            throw VeilError(.invalidInput, field: "actor", "must be a token name or `cli` (1 to 200 characters, one line)")
        }
        return try state.withLock { state in
            try file.locked(exclusive: true) {
                try refresh(&state)
                let seq = state.head.seq + 1
                let body = try AuditBody(
                    seq: seq, time: AuditTime.format(clock.now()), actor: actor, action: action.rawValue, details: details
                ).jsonText()
                let hash = AuditChain.link(previous: state.head.hash, body: body)
                let line = AuditLine(body: body, hash: hash, signature: signingKey.signature(for: hash)).encoded()
                let grown = state.size + Int64(line.count)  // `refresh` left `size` equal to the file's
                state.size = -1  // until the append is known to be complete
                try file.append(line)
                state = (AuditHead(seq: seq, hash: hash), grown)
                return seq
            }
        }
    }

    /// The current head of the log (re-read when another writer has appended).
    public func head() throws -> AuditHead {
        try state.withLock { state in
            try file.locked(exclusive: true) {
                try refresh(&state)
                return state.head
            }
        }
    }

    /// Re-reads the tail when the file size differs from the one this instance last saw. Called with
    /// the exclusive lock held.
    private func refresh(_ state: inout (head: AuditHead, size: Int64)) throws {
        let size = try file.size()
        guard size != state.size else { return }
        let (lastLine, completeLength) = try file.lastLine(fileSize: size)
        if completeLength < size { try file.truncate(to: completeLength) }
        state = (try lastLine.map(verifiedHead) ?? .empty, completeLength)
    }

    /// The head named by the log's last line, after checking the line's shape and signature.
    private func verifiedHead(_ bytes: [UInt8]) throws -> AuditHead {
        let damaged = { (reason: String) in
            VeilError(
                .integrity, field: self.path,
                "the last record \(reason); run `veil audit verify` and restore the log from backup before writing to it")
        }
        guard case .success(let line) = AuditLine.parse(String(decoding: bytes, as: UTF8.self)) else {
            throw damaged("is not a well-formed audit line")
        }
        guard signingKey.publicKey.isValidSignature(line.signature, for: line.hash) else {
            throw damaged("has a signature that does not verify with this host's audit key")
        }
        guard case .success(let body) = AuditBody.parse(line.body) else {
            throw damaged("has a malformed body")
        }
        return AuditHead(seq: body.seq, hash: line.hash)
    }

    /// The log file's bytes, read under a shared lock so no half-written line is seen.
    /// Throws `notFound` when there is no log at `path`.
    public static func contents(path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw VeilError(.notFound, field: path, "no audit log here; check --data-dir / --file")
        }
        let file = try AuditFile(readingFrom: path)
        return try file.locked(exclusive: false) { try file.readAll() }
    }
}
