import Foundation
import Synchronization
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore

/// A backend under the store contract: how to make a fresh, empty deployment of it. The contract
/// suite (`StoreContract.cases`) runs every case against it; a backend's test target runs
///
///     @Test(arguments: StoreContract.cases) func contract(_ check: StoreContractCase) async throws {
///         try await check.run(on: .myBackend)
///     }
public struct StoreBackend: Sendable {
    public let name: String
    /// Makes a fresh, empty deployment (a temporary data directory, a throwaway database).
    public let makeDeployment: @Sendable () async throws -> StoreDeployment

    public init(name: String, makeDeployment: @escaping @Sendable () async throws -> StoreDeployment) {
        self.name = name
        self.makeDeployment = makeDeployment
    }
}

/// One deployment of a backend: its stores can be opened more than once, each open standing for
/// another process (or replica) on the same data.
public struct StoreDeployment: Sendable {
    /// Opens the deployment's stores with `configuration`.
    public let open: @Sendable (StoreConfiguration) async throws -> StoreSet
    /// Deletes the deployment.
    public let remove: @Sendable () async -> Void

    public init(
        open: @escaping @Sendable (StoreConfiguration) async throws -> StoreSet, remove: @escaping @Sendable () async -> Void
    ) {
        self.open = open
        self.remove = remove
    }
}

/// One case of the store contract, runnable on any backend. Named for test reports.
public struct StoreContractCase: Sendable, CustomTestStringConvertible {
    public let name: String
    let body: @Sendable (ContractDeployment) async throws -> Void

    init(_ name: String, _ body: @escaping @Sendable (ContractDeployment) async throws -> Void) {
        self.name = name
        self.body = body
    }

    public var testDescription: String { name }

    /// Runs the case on a fresh deployment of `backend`, removed afterwards.
    public func run(on backend: StoreBackend) async throws {
        let deployment = try await backend.makeDeployment()
        let harness = ContractDeployment(deployment, another: backend.makeDeployment)
        do {
            try await body(harness)
        } catch {
            await deployment.remove()
            throw error
        }
        await deployment.remove()
    }
}

/// What a case works with: the deployment, the real audit signer (the stores seal with it), and ways to
/// open the stores as one or several processes.
final class ContractDeployment: Sendable {
    let deployment: StoreDeployment
    /// Makes another fresh deployment of the same backend (remove it when done).
    let another: @Sendable () async throws -> StoreDeployment
    let signingKey = SigningKey.generate()
    private let commits = CommitCounter()

    init(_ deployment: StoreDeployment, another: @escaping @Sendable () async throws -> StoreDeployment) {
        self.deployment = deployment
        self.another = another
    }

    /// How many times any opened store reported a commit that added audit records.
    var auditCommits: Int { commits.count.withLock { $0 } }

    /// Opens the stores, sealing with this deployment's audit key.
    func open() async throws -> StoreSet {
        try await deployment.open(
            StoreConfiguration(sealer: AuditSigner(signingKey: signingKey)) { [commits] in commits.count.withLock { $0 += 1 } })
    }

    /// Opens the stores without a sealer (what an auditor holding only the public key gets).
    func openReadOnly() async throws -> StoreSet {
        try await deployment.open(StoreConfiguration(sealer: nil))
    }

    /// Every record of the chain, verified with the audit public key (chain, seq, signatures).
    func verifiedChain(_ stores: StoreSet) async throws -> [AuditBody] {
        var records: [SealedAuditRecord] = []
        try await stores.audit.forEachRecord(pageSize: 7) { records += $0 }
        let result = AuditVerifier.verify(lines: records.map(\.line), publicKey: signingKey.publicKey, checkpoint: nil)
        #expect(result.failure == nil, "the chain does not verify: \(String(describing: result.failure))")
        #expect(records.map(\.seq) == (0..<records.count).map { UInt64($0 + 1) }, "seq must run 1, 2, 3, … without gaps")
        if let last = records.last { #expect(try await stores.audit.head() == last.head) }
        return records.compactMap { record in
            guard case .success(let line) = AuditLine.parse(record.line), case .success(let body) = AuditBody.parse(line.body) else {
                return nil
            }
            return body
        }
    }
}

final class CommitCounter: Sendable {
    let count = Mutex(0)
}

// MARK: - Fixtures

enum Fixtures {
    static let dataKey = DataKeyRecord(id: "k1", sealed: [UInt8](repeating: 7, count: 80), created: Date(timeIntervalSince1970: 0))

    /// A pseudonym spread over the whole space, as real (keyed-hash) pseudonyms are.
    static func pid(_ n: UInt64) -> Pseudonym {
        var x = n &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return Pseudonym(high: x ^ (x >> 31), low: n)
    }

    static func event(_ id: String, _ user: UInt64, at millis: Int64, type: EventType = .view) -> StoredEvent {
        StoredEvent(
            eventID: id, pseudonym: pid(user), epoch: 1, type: type, timestampMillis: millis, session: pid(10_000 + user),
            itemID: "sku-1", category: "books", price: 9.5, quantity: 2, rating: nil, query: nil)
    }

    static func vault(_ pseudonym: Pseudonym) -> VaultRecord {
        VaultRecord(pseudonym: pseudonym, epoch: 1, dataKeyID: dataKey.id, nonce: [1, 2, 3], ciphertext: [4, 5, 6])
    }

    /// A batch whose escrow always succeeds and whose record is `ingest.batch` with its counts.
    static func batch(_ events: [StoredEvent], actor: String = "contract") -> EventBatchWrite {
        EventBatchWrite(events: events, dataKey: dataKey, escrow: { vault($0) }, audit: { ingestRecord($0, actor: actor) })
    }

    static func ingestRecord(_ result: BatchCommit, actor: String = "contract") -> AuditDraft {
        AuditDraft(
            actor: actor, action: .ingestBatch,
            details: ["accepted": .int(Int64(result.inserted)), "duplicates": .int(Int64(result.duplicates))])
    }

    static func spend(_ epsilon: Double, principal: String = "analyst-1", cumulative: Double) -> BudgetSpend {
        BudgetSpend(
            dataset: "contract", principal: principal, role: "analyst", purpose: "contract query",
            mechanism: #"{"epsilon":\#(epsilon),"mechanism":"pure_epsilon"}"#, epsilon: epsilon, delta: 1e-6,
            cumulativeEpsilon: cumulative, createdMillis: 1_795_435_200_000)
    }

    static func spendRecord(_ spend: BudgetSpend) -> AuditDraft {
        AuditDraft(
            actor: spend.principal, action: .budgetSpend,
            details: [
                "dataset": .string(spend.dataset), "epsilon": .double(spend.epsilon),
                "cumulative_epsilon": .double(spend.cumulativeEpsilon),
            ])
    }

    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let number)?: Double(number)
        case .double(let number)?: number
        default: nil
        }
    }
}

/// Thrown by the tests' own closures, to check it comes back through the store unchanged.
struct CallerFailure: Error, Equatable {
    let site: String
}
