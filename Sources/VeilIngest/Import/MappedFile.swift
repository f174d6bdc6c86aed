import Foundation
import Glibc
import VeilCore

/// A file mapped read-only into memory, so readers can walk its bytes without copying them.
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

    deinit {
        if let mapping { munmap(mapping, length) }
    }
}
