import CSodium
import Foundation
import Glibc
import VeilCore

/// The key files Veil keeps in its key directory: raw key bytes in standard base64 on one line.
public enum KeyFile: String, CaseIterable, Sendable {
    /// 32-byte master key for pseudonym key derivation. Secret; stays on the serving host.
    case master = "master.key"
    /// 32-byte X25519 escrow public key. Public.
    case escrowPublic = "escrow.pub"
    /// 32-byte X25519 escrow secret key. Secret; must be moved off the serving host.
    case escrowSecret = "escrow.secret"
    /// 32-byte Ed25519 audit public key. Public; auditors need only this.
    case auditPublic = "audit.pub"
    /// 32-byte Ed25519 seed that signs the audit log. Secret; stays on the serving host.
    case auditSecret = "audit.secret"

    /// Whether the file holds a secret (mode 0600, refused when readable by group or others).
    public var isSecret: Bool { self == .master || self == .escrowSecret || self == .auditSecret }
}

/// The keys a serving host holds: everything except the escrow secret key.
public struct KeyRing: Sendable {
    /// The key epoch new pseudonyms are derived for. Veil starts at epoch 1; rotation is not implemented yet.
    public static let currentEpoch: UInt32 = 1

    public let directory: String
    public let epoch: UInt32
    public let master: SecretBytes
    public let escrowPublicKey: EscrowPublicKey
    public let auditSigningKey: SigningKey

    /// The pseudonymizer for user IDs at this ring's epoch.
    public var userPseudonymizer: Pseudonymizer { Pseudonymizer(master: master, epoch: epoch, context: .user) }
    /// The pseudonymizer for session IDs at this ring's epoch.
    public var sessionPseudonymizer: Pseudonymizer { Pseudonymizer(master: master, epoch: epoch, context: .session) }

    /// A fingerprint of the master key that reveals nothing about it:
    /// `BLAKE2b-256(key = crypto_kdf_derive_from_key(32, 1, "veil-fpr", master), message = "veil key-set fingerprint")`.
    /// Two key sets share it only if they share the master key. A data directory stores it to refuse
    /// another key set's `master.key` (docs/threat-model.md).
    public var masterFingerprint: [UInt8] {
        let key = KeyDerivation.subkey(length: 32, id: 1, context: "veil-fpr", master: master)
        return BLAKE2b.keyedHash(Array("veil key-set fingerprint".utf8), key: key, outputLength: 32)
    }

    /// Loads the serving keys from `directory`. Each failure names the file and what to do.
    public static func load(directory: String) throws -> KeyRing {
        let master = try KeyFileIO.readSecret(.master, in: directory)
        let escrow = try KeyFileIO.readPublic(.escrowPublic, in: directory)
        let auditSeed = try KeyFileIO.readSecret(.auditSecret, in: directory)
        let auditPublic = try KeyFileIO.readPublic(.auditPublic, in: directory)
        let signing = SigningKey(seed: auditSeed)
        guard signing.publicKey.bytes == auditPublic else {
            throw VeilError(
                .keyFile, field: KeyFileIO.path(.auditPublic, in: directory),
                "does not match audit.secret; restore the pair that was created together")
        }
        return KeyRing(
            directory: directory, epoch: currentEpoch, master: master,
            escrowPublicKey: EscrowPublicKey(bytes: escrow)!, auditSigningKey: signing)
    }

    /// Creates a new key set in `directory` (made with mode 0700 if absent). Refuses, writing nothing,
    /// if any key file already exists there.
    @discardableResult
    public static func initialize(directory: String) throws -> KeyRing {
        try KeyFileIO.prepareDirectory(directory)
        for file in KeyFile.allCases where FileManager.default.fileExists(atPath: KeyFileIO.path(file, in: directory)) {
            throw VeilError(
                .alreadyExists, field: KeyFileIO.path(file, in: directory),
                "already exists; refusing to overwrite keys (existing pseudonyms and escrow depend on them). Use another --dir, or move the old keys away deliberately")
        }
        let master = SecretBytes(randomCount: 32)
        let escrow = EscrowSecretKey.generate()
        let signing = SigningKey.generate()
        try KeyFileIO.write(.master, secret: master, in: directory)
        try KeyFileIO.write(.escrowPublic, bytes: escrow.publicKey.bytes, in: directory)
        try KeyFileIO.write(.escrowSecret, secret: escrow.secret, in: directory)
        try KeyFileIO.write(.auditPublic, bytes: signing.publicKey.bytes, in: directory)
        try KeyFileIO.write(.auditSecret, secret: signing.seed, in: directory)
        return KeyRing(
            directory: directory, epoch: currentEpoch, master: master,
            escrowPublicKey: escrow.publicKey, auditSigningKey: signing)
    }

    /// Loads the offline escrow secret key from `path`, checking it against `escrow.pub` in `directory`
    /// when that file is present.
    public static func loadEscrowSecret(path: String, publicKeyDirectory directory: String?) throws -> EscrowSecretKey {
        let secret = try KeyFileIO.readSecret(atPath: path, expectedLength: 32)
        let derived = secret.withUnsafeBytes { bytes in EscrowKeyMath.publicKey(forSecret: bytes) }
        if let directory, FileManager.default.fileExists(atPath: KeyFileIO.path(.escrowPublic, in: directory)) {
            let stored = try KeyFileIO.readPublic(.escrowPublic, in: directory)
            guard stored == derived else {
                throw VeilError(.keyFile, field: path, "does not belong to \(KeyFileIO.path(.escrowPublic, in: directory))")
            }
        }
        return EscrowSecretKey(secret: secret, publicKey: EscrowPublicKey(bytes: derived)!)
    }

    /// Loads the audit public key alone (what an auditor holds).
    public static func loadAuditPublicKey(path: String) throws -> SigningPublicKey {
        SigningPublicKey(bytes: try KeyFileIO.readPublic(atPath: path, expectedLength: 32))!
    }
}

/// Reading and writing one key file with the checks `KeyRing` documents.
enum KeyFileIO {
    static func path(_ file: KeyFile, in directory: String) -> String {
        (directory as NSString).appendingPathComponent(file.rawValue)
    }

    static func prepareDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw VeilError(.keyFile, field: directory, "exists and is not a directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw VeilError(.keyFile, field: directory, "cannot create the key directory: \(error.localizedDescription)")
        }
    }

    static func readSecret(_ file: KeyFile, in directory: String) throws -> SecretBytes {
        try readSecret(atPath: path(file, in: directory), expectedLength: 32)
    }

    static func readPublic(_ file: KeyFile, in directory: String) throws -> [UInt8] {
        try readPublic(atPath: path(file, in: directory), expectedLength: 32)
    }

    static func readSecret(atPath path: String, expectedLength: Int) throws -> SecretBytes {
        var info = stat()
        guard stat(path, &info) == 0 else { throw missing(path) }
        guard info.st_mode & 0o077 == 0 else {
            throw VeilError(
                .keyFile, field: path,
                "is readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); a secret key must be private: run `chmod 600 \(path)`")
        }
        var bytes = try decode(path: path, expectedLength: expectedLength)
        defer { SecretBytes.wipe(&bytes) }
        return SecretBytes(copying: bytes)
    }

    static func readPublic(atPath path: String, expectedLength: Int) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw missing(path) }
        return try decode(path: path, expectedLength: expectedLength)
    }

    private static func missing(_ path: String) -> VeilError {
        VeilError(.keyFile, field: path, "not found; create keys with `veil keys init --dir <dir>` or point --keys / VEIL_KEYS at the key directory")
    }

    /// The largest key file read: a key is one line of base64 (45 bytes for 32 bytes of key).
    static let maxFileBytes = 1024

    /// The file's bytes, refusing anything but a regular file of at most `maxFileBytes` (a FIFO, a
    /// device or a huge file is never read).
    private static func contents(path: String) throws -> Data {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw VeilError(.keyFile, field: path, "cannot be read; check its owner and permissions")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw VeilError(.keyFile, field: path, "is not a regular file; a key file holds one line of base64 (see keys/README.md)")
        }
        guard info.st_size <= maxFileBytes else {
            throw VeilError(
                .keyFile, field: path,
                "is larger than \(maxFileBytes) bytes; a key file holds one line of base64 (see keys/README.md). Restore it from backup")
        }
        var bytes = [UInt8](repeating: 0, count: maxFileBytes + 1)
        defer { SecretBytes.wipe(&bytes) }
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw VeilError(.keyFile, field: path, "cannot be read; check its owner and permissions") }
            if got == 0 { break }
            count += got
        }
        guard count <= maxFileBytes else {
            throw VeilError(.keyFile, field: path, "is larger than \(maxFileBytes) bytes; a key file holds one line of base64 (see keys/README.md)")
        }
        return Data(bytes[0..<count])
    }

    private static func decode(path: String, expectedLength: Int) throws -> [UInt8] {
        var raw = try contents(path: path)
        defer { raw.resetBytes(in: 0..<raw.count) }
        var text = raw
        while let last = text.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { text.removeLast() }
        defer { text.resetBytes(in: 0..<text.count) }
        guard let decoded = Data(base64Encoded: text) else {
            throw VeilError(
                .keyFile, field: path,
                "is not valid standard base64; a key file holds one line of base64 (see keys/README.md). Restore it from backup")
        }
        var bytes = [UInt8](decoded)
        guard bytes.count == expectedLength else {
            let count = bytes.count
            SecretBytes.wipe(&bytes)
            throw VeilError(
                .keyFile, field: path,
                "holds \(count) bytes, expected \(expectedLength); the file is truncated or is not a Veil key. Restore it from backup")
        }
        return bytes
    }

    static func write(_ file: KeyFile, secret: SecretBytes, in directory: String) throws {
        var bytes = secret.withUnsafeBytes { [UInt8]($0) }
        defer { SecretBytes.wipe(&bytes) }
        try write(file, bytes: bytes, in: directory)
    }

    /// Writes base64 + newline to a new file (O_EXCL: never replaces one), mode 0600 for secrets and
    /// 0644 for public keys, and syncs it.
    static func write(_ file: KeyFile, bytes: [UInt8], in directory: String) throws {
        let target = path(file, in: directory)
        var line = Array(Data(bytes).base64EncodedData()) + [UInt8(ascii: "\n")]
        defer { SecretBytes.wipe(&line) }
        let mode: mode_t = file.isSecret ? 0o600 : 0o644
        let descriptor = open(target, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard descriptor >= 0 else {
            throw VeilError(.keyFile, field: target, "cannot be created: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        fchmod(descriptor, mode)  // the umask may have narrowed or widened nothing, but be exact
        let written = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(descriptor) == 0 else {
            throw VeilError(.keyFile, field: target, "could not be written completely: \(String(cString: strerror(errno)))")
        }
    }
}

/// Public-key derivation for X25519 escrow keys.
enum EscrowKeyMath {
    static func publicKey(forSecret secret: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        Sodium.ready()
        _ = crypto_scalarmult_base(&out, secret.baseAddress!.assumingMemoryBound(to: UInt8.self))
        return out
    }
}
