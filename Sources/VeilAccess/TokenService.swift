import Foundation
import VeilCore
import VeilCrypto
import VeilStore

/// Checks a bearer token presented to the gateway.
public protocol TokenAuthenticating: Sendable {
    /// The principal the token belongs to, or nil when the token is malformed, unknown or revoked.
    /// Throws only when the check itself cannot be made (`VeilError(.unavailable)`).
    func authenticate(token: String) async throws -> Principal?
}

/// A token as shown once, at issue.
public struct IssuedToken: Sendable, Codable, Equatable {
    public var name: String
    public var role: Role
    public var created: Date
    /// `veil_` + base64url (no padding) of 32 random bytes. Shown once; only its keyed hash is stored.
    public var token: String
}

/// A token as listed: never its hash or value.
public struct TokenInfo: Sendable, Codable, Equatable {
    public var name: String
    public var role: Role
    public var created: Date
    public var revoked: Date?
}

/// Issues, lists, revokes and verifies API tokens.
///
/// A token is `veil_` followed by the unpadded base64url encoding of 32 bytes from the CSPRNG. The store
/// keeps only `BLAKE2b-256(key = KDF(master, id 1, "veil-tok"), message = those 32 bytes)`; a presented
/// token is looked up by that hash and the hashes are compared in constant time.
public struct TokenService: TokenAuthenticating {
    /// The prefix every Veil token starts with (lets secret scanners recognise leaked tokens).
    public static let prefix = "veil_"
    static let secretLength = 32

    private let store: any TokenStore
    private let hashKey: SecretBytes
    private let clock: WallClock

    /// - Parameters:
    ///   - store: where tokens are kept; it records `token.issue` and `token.revoke` in the transaction
    ///     that makes the change.
    ///   - master: the master key; the token-hash key is derived from it (subkey 1, context `veil-tok`).
    public init(store: any TokenStore, master: SecretBytes, clock: WallClock = .system) {
        self.store = store
        self.hashKey = KeyDerivation.subkey(length: 32, id: 1, context: "veil-tok", master: master)
        self.clock = clock
    }

    /// Creates a token for `name` with `role`, records `token.issue` (name and role) as `actor`, and
    /// returns it. Throws `VeilError(.invalidInput)` for a bad name and `.alreadyExists` for a used one.
    public func issue(name: String, role: Role, actor: String) async throws -> IssuedToken {
        try Principal.checkName(name, field: "name")
        var secret = SystemRandom.bytes(Self.secretLength)
        defer { SecretBytes.wipe(&secret) }
        let created = wholeSecondNow()
        try await store.insert(
            TokenRecord(name: name, role: role, hash: hash(secret), created: created),
            audit: AuditDraft(actor: actor, action: .tokenIssue, details: ["name": .string(name), "role": .string(role.rawValue)]))
        return IssuedToken(name: name, role: role, created: created, token: Self.prefix + Base64URL.encode(secret))
    }

    /// Every token's name, role, creation and revocation time, oldest first.
    public func list() async throws -> [TokenInfo] {
        try await store.all().map { TokenInfo(name: $0.name, role: $0.role, created: $0.created, revoked: $0.revoked) }
    }

    /// Revokes the named token and records `token.revoke` as `actor`. Throws `VeilError(.notFound)`
    /// when no unrevoked token has that name.
    public func revoke(name: String, actor: String) async throws {
        let draft = AuditDraft(actor: actor, action: .tokenRevoke, details: ["name": .string(name)])
        guard try await store.revoke(name: name, at: wholeSecondNow(), audit: draft) else {
            throw VeilError(.notFound, field: "name", "no active token has this name; `veil tokens list` shows the tokens")
        }
    }

    public func authenticate(token: String) async throws -> Principal? {
        guard token.hasPrefix(Self.prefix),
            var secret = Base64URL.decode(String(token.dropFirst(Self.prefix.count))),
            secret.count == Self.secretLength
        else { return nil }
        defer { SecretBytes.wipe(&secret) }
        let presented = hash(secret)
        guard let record = try await store.token(hash: presented),
            ConstantTime.equals(record.hash, presented),
            record.revoked == nil
        else { return nil }
        return Principal(name: record.name, role: record.role)
    }

    /// Times are kept to the second: they are shown and compared as ISO 8601 without fractions.
    private func wholeSecondNow() -> Date {
        Date(timeIntervalSince1970: clock.now().timeIntervalSince1970.rounded(.down))
    }

    private func hash(_ secret: [UInt8]) -> [UInt8] {
        BLAKE2b.keyedHash(secret, key: hashKey, outputLength: 32)
    }

}

/// Unpadded base64url (RFC 4648 §5), canonical only: a string that does not re-encode to itself is refused.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "=") })
        else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        guard let data = Data(base64Encoded: standard) else { return nil }
        let bytes = [UInt8](data)
        return encode(bytes) == text ? bytes : nil
    }
}
