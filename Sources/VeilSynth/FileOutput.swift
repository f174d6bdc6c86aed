#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VeilCore

private func systemWrite(_ descriptor: Int32, _ base: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, base, count)
}

private func systemClose(_ descriptor: Int32) {
    _ = close(descriptor)
}

/// Writes byte chunks to a file descriptor with `write(2)`, retrying short writes. The generator already
/// hands over large chunks, so there is no second buffer. The only I/O in VeilSynth.
public final class SynthFileOutput {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let name: String
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    /// Standard output.
    public static func standardOutput() -> SynthFileOutput {
        SynthFileOutput(descriptor: 1, ownsDescriptor: false, name: "stdout")
    }

    /// Creates or truncates `path` (mode 0644).
    public convenience init(path: String, option: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            throw VeilError(.unavailable, field: option, "cannot create the file: \(String(cString: strerror(errno)))")
        }
        self.init(descriptor: descriptor, ownsDescriptor: true, name: option)
    }

    private init(descriptor: Int32, ownsDescriptor: Bool, name: String) {
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
        self.name = name
    }

    deinit { if ownsDescriptor { systemClose(descriptor) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(descriptor, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw VeilError(.unavailable, field: name, "write failed: \(String(cString: strerror(errno)))")
            }
            remaining -= written
            base += written
            bytesWritten += written
        }
    }

    /// Flushes the file to disk (no-op for a pipe or terminal).
    public func finish() {
        if ownsDescriptor { _ = fsync(descriptor) }
    }
}
