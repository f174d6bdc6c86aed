import Foundation
import VeilCore

/// One line of `audit.log`: `{"body":"<JSON text>","hash":"<64 hex>","sig":"<base64 of 64 bytes>"}`
/// followed by `\n`. `hash` links the body into the chain (`AuditChain`); `sig` is the Ed25519
/// signature of the 32 hash bytes.
public struct AuditLine: Sendable, Hashable {
    public let body: String
    public let hash: [UInt8]
    public let signature: [UInt8]

    public init(body: String, hash: [UInt8], signature: [UInt8]) {
        self.body = body
        self.hash = hash
        self.signature = signature
    }

    /// The line's text: compact JSON with sorted keys (`CanonicalJSON`), without the final newline.
    public var text: String {
        var out: [UInt8] = []
        out.reserveCapacity(body.utf8.count + 200)
        out.append(contentsOf: #"{"body":"#.utf8)
        CanonicalJSON.write(body, to: &out)
        out.append(contentsOf: #","hash":""#.utf8)
        out.append(contentsOf: Hex.encode(hash).utf8)
        out.append(contentsOf: #"","sig":""#.utf8)
        out.append(contentsOf: Data(signature).base64EncodedString().utf8)
        out.append(contentsOf: #""}"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// The line's bytes as a log file holds them: `text` and a final newline.
    public func encoded() -> [UInt8] { Array(text.utf8) + [UInt8(ascii: "\n")] }

    /// The bounds a line is parsed under: one object of three strings (no nesting), at most 1 MiB.
    static let limits = JSONLimits(maxDepth: 1, maxBytes: 1 << 20)

    /// Parses one line (without its newline), or says which rule it breaks.
    public static func parse(_ text: some StringProtocol) -> Result<AuditLine, AuditShapeError> {
        let node: JSONNode
        do {
            node = try JSONNode.parse(Array(text.utf8), limits: limits)
        } catch {
            return .failure(AuditShapeError("the line is not a JSON object with exactly the string fields body, hash and sig: \(error)"))
        }
        guard node.members?.count == 3, let body = node["body"]?.stringValue, let hashText = node["hash"]?.stringValue,
            let sigText = node["sig"]?.stringValue
        else {
            return .failure(AuditShapeError("the line is not a JSON object with exactly the string fields body, hash and sig"))
        }
        guard hashText.count == 64, hashText == hashText.lowercased(), let hash = Hex.decode(hashText) else {
            return .failure(AuditShapeError("hash is not 64 lowercase hex characters"))
        }
        guard let signature = Data(base64Encoded: sigText), signature.count == 64 else {
            return .failure(AuditShapeError("sig is not the base64 of 64 bytes"))
        }
        return .success(AuditLine(body: body, hash: hash, signature: [UInt8](signature)))
    }
}
