import CSodium

/// Secret key material: heap storage that is locked in memory where the system allows it, wiped with
/// `sodium_memzero` when freed, compared in constant time, and never printed.
///
/// The bytes are reachable only through `withUnsafeBytes`, so they are not copied into arrays or
/// strings by accident. Instances are immutable after creation and therefore safe to share.
public final class SecretBytes: @unchecked Sendable {
    private let pointer: UnsafeMutableRawPointer
    /// The number of secret bytes.
    public let count: Int
    private let locked: Bool

    /// Allocates `count` bytes and lets `initialise` fill them. The storage is wiped if `initialise` throws.
    public init(count: Int, initialise: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ready()
        precondition(count > 0, "SecretBytes needs at least one byte")
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: count)
        // mlock can fail under RLIMIT_MEMLOCK or in containers; the bytes are still wiped on free.
        locked = sodium_mlock(pointer, count) == 0
        do {
            try initialise(UnsafeMutableRawBufferPointer(start: pointer, count: count))
        } catch {
            sodium_memzero(pointer, count)
            throw error
        }
    }

    /// Fresh random bytes from the libsodium CSPRNG.
    public convenience init(randomCount count: Int) {
        self.init(count: count) { buffer in randombytes_buf(buffer.baseAddress!, buffer.count) }
    }

    /// Copies `bytes` in. The caller should wipe its own copy (see `wipe(_:)`).
    public convenience init(copying bytes: [UInt8]) {
        self.init(count: bytes.count) { buffer in buffer.copyBytes(from: bytes) }
    }

    deinit {
        sodium_memzero(pointer, count)
        if locked { sodium_munlock(pointer, count) }
        pointer.deallocate()
    }

    /// Lends the secret bytes to `body`. Do not let the pointer escape.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Overwrites an ordinary array that held secret bytes (for example while parsing a key file).
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { sodium_memzero(base, buffer.count) }
        }
    }
}

extension SecretBytes: Equatable {
    /// Constant-time comparison of two secrets of the same length.
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return sodium_memcmp(lhs.pointer, rhs.pointer, lhs.count) == 0
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
}
