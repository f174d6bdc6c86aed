import Foundation
import Glibc
import VeilCore

/// A file mapped read-only into memory, so readers can walk its bytes without copying them.
///
/// Pages a reader has touched count in the process's resident set (and its peak, `VmHWM`) until they
/// are given back: a reader of a large file calls `release(from:to:)` behind itself (`RecordReader`
/// does, every `RecordReader.releaseStride` bytes), so an import's memory does not grow with the file.
final class MappedFile: @unchecked Sendable {
    /// The file's bytes; valid while this object lives. Never mutated.
    let bytes: UnsafeBufferPointer<UInt8>
    private let mapping: UnsafeMutableRawPointer?
    private let length: Int

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw VeilError(.notFound, field: path, "cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw VeilError(.invalidInput, field: path, "is not a regular file")
        }
        length = Int(info.st_size)
        if length == 0 {
            mapping = nil
            bytes = UnsafeBufferPointer(start: nil, count: 0)
            return
        }
        guard let pointer = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0), pointer != MAP_FAILED else {
            throw VeilError(.unavailable, field: path, "cannot be mapped into memory: \(String(cString: strerror(errno)))")
        }
        _ = madvise(pointer, length, MADV_SEQUENTIAL)
        mapping = pointer
        bytes = UnsafeBufferPointer(start: pointer.assumingMemoryBound(to: UInt8.self), count: length)
    }

    /// The system's page size: `release(from:to:)` gives back whole pages only.
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Gives the whole pages inside `lower..<upper` back to the kernel and returns the end of the last
    /// page given back (`lower` when none was): they leave this process's resident set, the page cache
    /// keeps them, and `bytes` stays readable — a page touched again is read from the file again
    /// (the mapping is private and read-only, so it holds nothing the file does not).
    @discardableResult
    func release(from lower: Int, to upper: Int) -> Int {
        let page = Self.pageSize
        let first = (max(0, lower) + page - 1) / page * page
        let last = min(upper, length) / page * page
        guard let mapping, first < last else { return lower }
        _ = madvise(mapping + first, last - first, MADV_DONTNEED)
        return last
    }

    deinit {
        if let mapping { munmap(mapping, length) }
    }
}
