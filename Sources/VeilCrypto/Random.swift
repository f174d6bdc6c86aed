import CSodium

/// A `RandomNumberGenerator` that draws every value from libsodium's CSPRNG (`randombytes_buf`).
///
/// Use it where each value matters on its own (keys, nonces, tokens). For bulk noise use
/// `ChaChaNoiseGenerator`, which is much faster per value.
public struct SystemRandom: RandomNumberGenerator, Sendable {
    public init() { Sodium.ready() }

    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { randombytes_buf($0.baseAddress!, $0.count) }
        return value
    }

    /// `count` fresh random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        Sodium.ready()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return out
    }
}

/// A generator whose stream can be entered at any word, so that several threads can each draw a
/// different stretch of one seeded stream and together produce exactly what one thread would.
public protocol SeekableRandomNumberGenerator: RandomNumberGenerator {
    /// Leaves the generator exactly as `count` calls to `next()` would, in time that does not grow
    /// with `count`.
    mutating func skip(words count: UInt64)
}

/// A fast generator for differential-privacy noise: the ChaCha20 keystream (`crypto_stream_chacha20`)
/// under a 32-byte key, read as little-endian 64-bit words.
///
/// Block `i` of the stream is 4,096 bytes of `crypto_stream_chacha20(key, nonce = LE64(i))`. In production
/// the key is fresh from the CSPRNG (`init()`), so the noise is unpredictable; tests and reproducible
/// training pass a seed (`init(seed:)`), which makes the whole stream a pure function of the seed.
public struct ChaChaNoiseGenerator: SeekableRandomNumberGenerator, Sendable {
    private static let wordsPerBlock = 512
    private let key: SecretBytes
    private var blockIndex: UInt64 = 0
    private var words: [UInt64]
    private var position: Int

    /// A generator under a fresh random key.
    public init() {
        self.init(key: SecretBytes(randomCount: 32))
    }

    /// A deterministic generator: the key is BLAKE2b-256("veil-noise-seed" ‖ LE64(seed)).
    public init(seed: UInt64) {
        var seedBytes = Array("veil-noise-seed".utf8)
        withUnsafeBytes(of: seed.littleEndian) { seedBytes.append(contentsOf: $0) }
        var derived = BLAKE2b.hash256(seedBytes)
        self.init(key: SecretBytes(copying: derived))
        SecretBytes.wipe(&derived)
    }

    /// A generator under the given 32-byte key.
    public init(key: SecretBytes) {
        precondition(key.count == 32, "a ChaCha20 key is 32 bytes")
        Sodium.ready()
        self.key = key
        words = [UInt64](repeating: 0, count: Self.wordsPerBlock)
        position = Self.wordsPerBlock
    }

    public mutating func next() -> UInt64 {
        if position == Self.wordsPerBlock { refill() }
        defer { position += 1 }
        return UInt64(littleEndian: words[position])
    }

    /// Computes only the block the new position lies in (block `i` is `crypto_stream_chacha20` with nonce
    /// `LE64(i)`, so any block can be made without the ones before it).
    public mutating func skip(words count: UInt64) {
        let wordsPerBlock = UInt64(Self.wordsPerBlock)
        // Words read so far: the buffer holds block `blockIndex − 1`, read up to `position`.
        let consumed = blockIndex * wordsPerBlock - (wordsPerBlock - UInt64(position))
        let (block, offset) = (consumed + count).quotientAndRemainder(dividingBy: wordsPerBlock)
        if blockIndex > 0 && block == blockIndex - 1 {
            position = Int(offset)
            return
        }
        blockIndex = block
        position = Self.wordsPerBlock
        if offset > 0 {
            refill()
            position = Int(offset)
        }
    }

    private mutating func refill() {
        var nonce = blockIndex.littleEndian
        blockIndex += 1
        let key = self.key
        words.withUnsafeMutableBytes { out in
            withUnsafeBytes(of: &nonce) { nonceBytes in
                key.withUnsafeBytes { keyBytes in
                    _ = crypto_stream_chacha20(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(out.count),
                        nonceBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        position = 0
    }
}
