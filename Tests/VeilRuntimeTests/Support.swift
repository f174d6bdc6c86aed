import Foundation
import VeilCore
import VeilCrypto
import VeilLedger
import VeilPolicy
import VeilPrivacy
import VeilRuntime

/// A scratch deployment: a key directory and a data directory under a fresh temporary root, opened
/// the way every command opens it (`VeilContext.open`).
struct Deployment {
    let root: String
    var keys: String { root + "/keys" }
    var data: String { root + "/data" }
    var database: String { data + "/veil.sqlite" }
    var mirror: String { data + "/audit.log" }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("veil-runtime-\(UUID().uuidString)").path
        try KeyRing.initialize(directory: keys)
    }

    /// A policy whose dataset may spend `total` in all and all of it in one request, composed with
    /// `accountant`.
    static func policy(total: Double = 1, accountant: AccountantKind = .pld) -> LoadedPolicy {
        var policy = Policy()
        policy.budget.totalEpsilon = total
        policy.budget.maxEpsilonPerRequest = total
        policy.privacy.accountant = accountant
        return LoadedPolicy(policy: policy, hash: String(repeating: "a", count: 64), path: "built-in")
    }

    func open(total: Double = 1, accountant: AccountantKind = .pld, keys: String? = nil) async throws -> VeilContext {
        try await VeilContext.open(
            keysDirectory: keys ?? self.keys, dataDirectory: data, policy: Self.policy(total: total, accountant: accountant),
            actor: "test")
    }

    /// Reserves a pure ε-DP release of `epsilon`; true when accepted, false when refused.
    @discardableResult
    static func spend(_ epsilon: Double, in context: VeilContext) async throws -> Bool {
        do {
            try await context.budget.reserve(
                BudgetRequest(principal: "analyst-1", role: .analyst, purpose: "query", mechanism: .pureEpsilon(epsilon: epsilon)))
            return true
        } catch let error as VeilError where error.code == .budgetExceeded {
            return false
        }
    }

    /// Verifies the data directory's chain as `veil audit verify` does.
    static func verify(_ context: VeilContext) async throws -> ChainVerification {
        try await context.auditService().verify(publicKey: context.keys.auditSigningKey.publicKey)
    }

    /// Removes the database (and its WAL and shared-memory files).
    func deleteDatabase() throws {
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database + suffix) {
            try FileManager.default.removeItem(atPath: database + suffix)
        }
    }

    func mirrorLines() throws -> [String] {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: mirror)), as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
