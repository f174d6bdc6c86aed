import Foundation
import GRDB
import VeilCore

/// An error thrown by a caller's closure run inside a store operation (a budget decision, an escrow, a
/// batch producer). It crosses the store untouched: the operation rethrows the closure's own error.
struct CallerError: Error {
    let error: any Error

    /// Runs a caller's closure, marking what it throws as the caller's.
    static func marking<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw CallerError(error: error) }
    }
}

/// The one place where the SQLite backend's failures become `VeilError`s (crash-contract.md §5):
///
/// | SQLite result | VeilError | HTTP |
/// |---|---|---|
/// | BUSY, LOCKED, FULL, IOERR, CANTOPEN, PROTOCOL, NOMEM, READONLY, INTERRUPT | `.unavailable` | 503, `Retry-After` |
/// | CONSTRAINT | `.conflict` | 409 |
/// | anything else | `.internal`, with a `cause` naming the result code and the operation | 500 |
///
/// A full disk says what and where ("the disk holding <directory> is full: nothing was written").
/// Messages and causes carry the operation's name and SQLite's result code, never SQLite's message
/// (which may quote a statement) nor any stored or submitted value. A `VeilError` thrown inside an
/// operation, a cancellation and a caller's own error (`CallerError`) pass through unchanged.
enum SQLiteErrors {
    static func map(_ error: any Error, operation: String, directory: String) -> any Error {
        switch error {
        case let error as CallerError: return error.error
        case let error as VeilError: return error
        case let error as CancellationError: return error
        case let error as DatabaseError: return map(error, operation: operation, directory: directory)
        default:
            return VeilError(
                .internal, field: "store", "a store operation failed; nothing was written",
                cause: "\(operation): \(String(reflecting: type(of: error)))")
        }
    }

    private static func map(_ error: DatabaseError, operation: String, directory: String) -> VeilError {
        let code = error.resultCode
        let cause = "\(operation): SQLite result code \(error.extendedResultCode.rawValue)"
        switch code {
        case .SQLITE_FULL:
            return diskFull(directory, cause: cause)
        case .SQLITE_IOERR where nearlyFull(directory), .SQLITE_CANTOPEN where nearlyFull(directory):
            // SQLite reports a full disk as an I/O error where it cannot tell (growing the WAL index
            // `-shm` while opening, for one): the disk is what failed.
            return diskFull(directory, cause: cause)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return VeilError(
                .unavailable, field: "store", "the database is busy with another writer; nothing was written. Retry later",
                cause: cause)
        case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_PROTOCOL, .SQLITE_NOMEM, .SQLITE_READONLY, .SQLITE_INTERRUPT:
            return VeilError(
                .unavailable, field: directory, "the database in \(directory) cannot be read or written right now (I/O); nothing was written. Retry later",
                cause: cause)
        case .SQLITE_CONSTRAINT:
            return VeilError(
                .conflict, field: "store", "the change conflicts with what is stored; nothing was written", cause: cause)
        default:
            return VeilError(.internal, field: "store", "a store operation failed; nothing was written", cause: cause)
        }
    }

    /// Whether the file system holding `directory` has less than 1 MiB left for an unprivileged
    /// writer: less than SQLite needs to open a WAL database (its `-shm` index) or to append one
    /// transaction's pages, so an I/O error there is taken for a full disk.
    private static func nearlyFull(_ directory: String) -> Bool {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return false }
        return Int64(info.f_bavail) * Int64(info.f_frsize) < 1 << 20
    }

    private static func diskFull(_ directory: String, cause: String) -> VeilError {
        VeilError(
            .unavailable, field: directory, "the disk holding \(directory) is full: nothing was written. Free space and retry",
            cause: cause)
    }
}
