import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore
import VeilStoreSQLite

/// TEST SUPPORT. Real stores (the SQLite backend) in a fresh temporary data directory, sealing audit
/// records with a real `AuditSigner`, for the tests of use cases that need stores but not a whole
/// `VeilContext`.
public enum ScratchStores {
    /// A fresh temporary directory path (not created).
    public static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("veil-test-\(UUID().uuidString)").path
    }

    /// The stores of `directory`, sealing with `signingKey` and `clock`.
    public static func open(
        in directory: String = directory(), signingKey: SigningKey = .generate(), clock: WallClock = .system
    ) throws -> StoreSet {
        try SQLiteStores.open(
            directory: directory, configuration: StoreConfiguration(sealer: AuditSigner(signingKey: signingKey, clock: clock)))
    }
}

extension StoreSet {
    /// The lines of the chain, oldest first.
    public func chainLines() async throws -> [String] {
        var lines: [String] = []
        try await audit.forEachRecord { lines += $0.map(\.line) }
        return lines
    }

    /// The body of each record of the chain, oldest first.
    public func chainBodies() async throws -> [AuditBody] {
        try await chainLines().compactMap { text in
            guard case .success(let line) = AuditLine.parse(text), case .success(let body) = AuditBody.parse(line.body) else { return nil }
            return body
        }
    }

    /// The `action` of each record of the chain.
    public func chainActions() async throws -> [String] { try await chainBodies().map(\.action) }
}
