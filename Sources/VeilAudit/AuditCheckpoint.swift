import Foundation
import VeilCore
import VeilCrypto

/// A signed statement that the log's record `seq` has hash `hash`, kept by an auditor outside the
/// host so a later rollback or truncation of the log is detected.
///
/// JSON: `{"hash": "<64 lowercase hex>", "seq": n, "sig": "<base64>", "time": "<RFC 3339 UTC>"}`.
/// `sig` is the Ed25519 detached signature, with the audit key, of the UTF-8 bytes of
/// `"veil-audit-checkpoint\n" + decimal seq + "\n" + hash` (no trailing newline). `time` says when the
/// checkpoint was made and is not signed.
public struct AuditCheckpoint: Sendable, Hashable, Codable {
    public let seq: UInt64
    /// The hash of record `seq` as 64 lowercase hex characters (all zeros for seq 0, the empty log).
    public let hash: String
    public let time: String
    /// Base64 of the 64-byte signature.
    public let sig: String

    public init(seq: UInt64, hash: String, time: String, sig: String) {
        self.seq = seq
        self.hash = hash
        self.time = time
        self.sig = sig
    }

    /// Signs a checkpoint of `head` made at `time`.
    public init(head: AuditHead, time: Date, signingKey: SigningKey) {
        seq = head.seq
        hash = head.hashHex
        self.time = AuditTime.format(time)
        sig = Data(signingKey.signature(for: Self.signedMessage(seq: head.seq, hash: head.hashHex))).base64EncodedString()
    }

    /// The bytes the signature covers.
    public static func signedMessage(seq: UInt64, hash: String) -> [UInt8] {
        Array("veil-audit-checkpoint\n\(seq)\n\(hash)".utf8)
    }

    /// True when `hash` is well formed and `sig` verifies under `publicKey`.
    public func isValid(publicKey: SigningPublicKey) -> Bool {
        guard hash.count == 64, hash == hash.lowercased(), Hex.decode(hash) != nil,
            let signature = Data(base64Encoded: sig)
        else { return false }
        return publicKey.isValidSignature([UInt8](signature), for: Self.signedMessage(seq: seq, hash: hash))
    }

    /// Reads a checkpoint from JSON; throws `invalidInput` naming `source` when it is not one.
    public static func decode(_ data: Data, source: String) throws -> AuditCheckpoint {
        do {
            return try StrictJSONDecoder(limits: JSONLimits(maxDepth: 1, maxBytes: 4096)).decode(AuditCheckpoint.self, from: data)
        } catch {
            throw VeilError(.invalidInput, field: source, "is not a checkpoint (a JSON object with seq, hash, time and sig)")
        }
    }
}
