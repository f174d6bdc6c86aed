import Foundation
import Glibc
import VeilCore

/// The audit log's file descriptor and the POSIX operations the log needs: `flock`, reading the last
/// line, appending with `fsync`, and cutting off a torn tail. Errors name the path, never content.
final class AuditFile: Sendable {
    let path: String
    private let descriptor: Int32

    /// Opens `path` for reading and appending, creating it (mode 0600) if absent; a new file's directory
    /// is synced so the file itself survives a crash.
    init(path: String) throws {
        self.path = path
        let existed = FileManager.default.fileExists(atPath: path)
        descriptor = Glibc.open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure(path, "cannot be opened") }
        if !existed { Self.syncDirectory(of: path) }
    }

    /// Opens an existing file read-only (for verifying and exporting).
    init(readingFrom path: String) throws {
        self.path = path
        descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.failure(path, "cannot be opened for reading") }
    }

    deinit { Glibc.close(descriptor) }

    /// Holds an exclusive (`exclusive`) or shared `flock` on the file while `body` runs.
    func locked<Result>(exclusive: Bool, _ body: () throws -> Result) throws -> Result {
        while flock(descriptor, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard errno == EINTR else { throw Self.failure(path, "cannot be locked") }
        }
        defer { _ = flock(descriptor, LOCK_UN) }
        return try body()
    }

    func size() throws -> Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Self.failure(path, "cannot be examined") }
        return Int64(info.st_size)
    }

    /// Bytes `range` of the file.
    func read(_ range: Range<Int64>) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(range.count))
        var done = 0
        while done < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(range.lowerBound) + off_t(done))
            }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw Self.failure(path, "cannot be read") }
            done += got
        }
        return bytes
    }

    /// The whole file.
    func readAll() throws -> [UInt8] { try read(0..<size()) }

    /// The last complete (newline-terminated) line without its newline, and the length of the file up
    /// to and including that newline. Bytes after the last newline are a torn write.
    func lastLine(fileSize: Int64) throws -> (line: [UInt8]?, completeLength: Int64) {
        let newline = UInt8(ascii: "\n")
        var tail: [UInt8] = []  // the file from `start` to `fileSize`
        var start = fileSize
        while start > 0 {
            let chunkStart = max(0, start - 65_536)
            tail = try read(chunkStart..<start) + tail
            start = chunkStart
            guard let end = tail.lastIndex(of: newline) else { continue }
            let completeLength = start + Int64(end) + 1
            if let previous = tail[..<end].lastIndex(of: newline) {
                return (Array(tail[(previous + 1)..<end]), completeLength)
            }
            if start == 0 { return (Array(tail[..<end]), completeLength) }
        }
        return (nil, 0)
    }

    /// Appends `bytes` in full and syncs them to disk before returning.
    func append(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let wrote = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if wrote < 0, errno == EINTR { continue }
            guard wrote > 0 else { throw Self.failure(path, "cannot be appended to", code: .unavailable) }
            done += wrote
        }
        guard fsync(descriptor) == 0 else { throw Self.failure(path, "cannot be synced to disk", code: .unavailable) }
    }

    /// Cuts the file to `length` bytes and syncs.
    func truncate(to length: Int64) throws {
        guard ftruncate(descriptor, off_t(length)) == 0, fsync(descriptor) == 0 else {
            throw Self.failure(path, "cannot be truncated", code: .unavailable)
        }
    }

    /// A failure naming the file and what could not be done; a full disk (`ENOSPC`, `EDQUOT`) says so
    /// and where, as the store's errors do.
    private static func failure(_ path: String, _ what: String, code: VeilError.Code = .unavailable) -> VeilError {
        let reason = errno
        guard reason != ENOSPC && reason != EDQUOT else {
            let directory = (path as NSString).deletingLastPathComponent
            return VeilError(.unavailable, field: path, "\(what): the disk holding \(directory) is full. Free space and retry")
        }
        return VeilError(code, field: path, "\(what): \(String(cString: strerror(reason)))")
    }

    private static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let handle = Glibc.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard handle >= 0 else { return }
        _ = fsync(handle)
        Glibc.close(handle)
    }
}
