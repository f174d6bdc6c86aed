import CSodium

/// Subkeys from the master key with `crypto_kdf_derive_from_key`.
public enum KeyDerivation {
    /// `crypto_kdf_derive_from_key(length, subkeyID, context, master)`. `context` is exactly 8 ASCII
    /// bytes (libsodium's `crypto_kdf_CONTEXTBYTES`); `length` is 16…64.
    public static func subkey(length: Int = 32, id subkeyID: UInt64, context: String, master: SecretBytes) -> SecretBytes {
        Sodium.ready()
        let contextBytes = Array(context.utf8)
        precondition(contextBytes.count == Int(veil_kdf_contextbytes()), "a KDF context is 8 bytes")
        precondition(master.count == 32, "the master key is 32 bytes")
        return SecretBytes(count: length) { subkey in
            master.withUnsafeBytes { masterBytes in
                contextBytes.withUnsafeBufferPointer { ctx in
                    ctx.withMemoryRebound(to: CChar.self) { ctxChars in
                        _ = crypto_kdf_derive_from_key(
                            subkey.baseAddress!.assumingMemoryBound(to: UInt8.self), subkey.count,
                            subkeyID, ctxChars.baseAddress!,
                            masterBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
    }
}
