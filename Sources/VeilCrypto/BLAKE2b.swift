import CSodium

/// BLAKE2b (`crypto_generichash`), unkeyed and keyed.
public enum BLAKE2b {
    /// The unkeyed 32-byte BLAKE2b digest of the concatenation of `parts`.
    public static func hash256(_ parts: [UInt8]...) -> [UInt8] {
        hash(outputLength: 32, key: nil, parts: parts)
    }

    /// The keyed BLAKE2b digest of `message` (`outputLength` 16…64 bytes, key 16…64 bytes).
    public static func keyedHash(_ message: [UInt8], key: SecretBytes, outputLength: Int = 32) -> [UInt8] {
        key.withUnsafeBytes { keyBytes in hash(outputLength: outputLength, key: keyBytes, parts: [message]) }
    }

    private static func hash(outputLength: Int, key: UnsafeRawBufferPointer?, parts: [[UInt8]]) -> [UInt8] {
        Sodium.ready()
        // crypto_generichash_state is 64-byte aligned and opaque to Swift: allocate it by size.
        let storage = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        defer {
            sodium_memzero(storage, crypto_generichash_statebytes())
            storage.deallocate()
        }
        let state = OpaquePointer(storage)
        let keyPointer = key?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        _ = crypto_generichash_init(state, keyPointer, key?.count ?? 0, outputLength)
        for part in parts {
            _ = part.withUnsafeBufferPointer { crypto_generichash_update(state, $0.baseAddress, UInt64($0.count)) }
        }
        var out = [UInt8](repeating: 0, count: outputLength)
        _ = crypto_generichash_final(state, &out, outputLength)
        return out
    }
}
