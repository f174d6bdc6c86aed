import Foundation
import VeilAudit
import VeilCore
import VeilPrivacy
import VeilStore

/// A request to pay for one release from the dataset's privacy budget.
public struct BudgetRequest: Sendable {
    /// Who asks: a token name, or `cli`.
    public var principal: String
    /// The role the principal acts in; `budget.per_role` caps it.
    public var role: Role
    /// What is released, in a few words (audited; no personal data).
    public var purpose: String
    /// The mechanism and its parameters.
    public var mechanism: PrivacyMechanism

    public init(principal: String, role: Role, purpose: String, mechanism: PrivacyMechanism) {
        self.principal = principal
        self.role = role
        self.purpose = purpose
        self.mechanism = mechanism
    }
}

/// Proof that a release was paid for.
public struct BudgetReceipt: Sendable, Codable, Equatable {
    public var spendID: Int64
    /// ε of this release alone at the policy's δ.
    public var epsilon: Double
    public var delta: Double
    /// The dataset's composed ε after this release.
    public var cumulativeEpsilon: Double
    /// `total_epsilon − cumulative_epsilon`.
    public var remainingEpsilon: Double

    public init(spendID: Int64, epsilon: Double, delta: Double, cumulativeEpsilon: Double, remainingEpsilon: Double) {
        self.spendID = spendID
        self.epsilon = epsilon
        self.delta = delta
        self.cumulativeEpsilon = cumulativeEpsilon
        self.remainingEpsilon = remainingEpsilon
    }

    enum CodingKeys: String, CodingKey {
        case epsilon, delta
        case spendID = "spend_id"
        case cumulativeEpsilon = "cumulative_epsilon"
        case remainingEpsilon = "remaining_epsilon"
    }
}

/// The budget ledger use case: every release reserves its cost here before any data is read.
///
/// Contract:
/// - The cost is the ε of the request's mechanism at the policy's δ. All of a dataset's spends compose,
///   in spend order, with the policy's accountant (`privacy.accountant`: PLD or RDP, see
///   `PrivacyAccountant`), so "spent" is the ε of the composition, not a sum. Each `budget.spend` and
///   `budget.refuse` record names that accountant and its parameters (`accountant`), so the verifier
///   recomputes with the same method; a policy that changes accountant charges every later request
///   with the new one over all spends.
/// - A request is refused, with nothing spent, when it would pass `max_epsilon_per_request`, the
///   dataset's `total_epsilon`, its role's cap or its principal's cap. The refusal (`VeilError` with code
///   `.budgetExceeded`, field naming the cap) says what was asked, what remains and which cap stopped it,
///   and is audited as `budget.refuse`.
/// - Check and spend are one atomic step (`LedgerStore.reserve`), and the spend's `budget.spend` record
///   is sealed in the same transaction: the ledger and the audit chain commit together or not at all.
///   `reserve` returns after that commit is durable; a spend is never refunded. The decision is pure
///   (it reads only the spends it is given), so a backend may run it more than once.
/// - A refusal is recorded as `budget.refuse` in a transaction of its own (nothing else changed).
public final class BudgetService: Sendable {
    private let budget: Policy.Budget
    private let dataset: String
    private let store: any LedgerStore
    private let audit: any AuditRecording
    /// The policy's accountant with its default parameters.
    private let method: AccountingMethod
    /// `method` as every `budget.spend` and `budget.refuse` record names it (made once).
    private let accountantJSON: JSONValue
    /// Keeps the composition a reservation's decision needs between decisions (internal for tests).
    let composition: LedgerComposition
    private let clock: WallClock
    /// The hash of the policy the caps come from; when set, spends are refused unless it is the policy
    /// recorded with the ledger (`LedgerStore.reserve`).
    private let policyHash: String?

    /// `clock` stamps each spend (tests pass a fixed one). `policyHash`: the loaded policy's hash, so
    /// that a process whose policy is not the recorded one refuses to spend (`VeilContext` passes it).
    public init(
        policy: Policy, policyHash: String? = nil, store: any LedgerStore, audit: any AuditRecording, clock: WallClock = .system
    ) {
        self.policyHash = policyHash
        budget = policy.budget
        dataset = policy.dataset
        self.store = store
        self.audit = audit
        method = AccountingMethod(policy.privacy.accountant)
        accountantJSON = Self.json(method)
        composition = LedgerComposition(
            method: method, cappedRoles: Set(policy.budget.perRole.keys), cappedPrincipals: Set(policy.budget.perPrincipal.keys),
            decode: Self.decode)
        self.clock = clock
    }

    /// Reserves the cost of `request`, or throws a refusal. See the type's contract.
    @discardableResult
    public func reserve(_ request: BudgetRequest) async throws -> BudgetReceipt {
        do {
            try request.mechanism.validate()
        } catch {
            throw VeilError(.invalidInput, field: "mechanism.\(error.field ?? "")", error.message)
        }
        // Everything a decision needs that does not depend on the ledger is made here, before the
        // reservation waits for the ledger's lock: the decision runs under it.
        let (mechanismJSON, mechanismValue) = try Self.recordedForms(of: request.mechanism)
        let requestEpsilon = PrivacyAccountant.epsilon(composing: [request.mechanism], delta: budget.delta, method: method)
        do {
            if requestEpsilon > budget.maxEpsilonPerRequest {
                throw refusal(
                    request, requestEpsilon, cap: "budget.max_epsilon_per_request", capValue: budget.maxEpsilonPerRequest,
                    spent: 0, after: requestEpsilon)
            }
            let createdMillis = clock.nowMillis()
            let spend = try await store.reserve(dataset: dataset, policyHash: policyHash, preparation: preparation) { [self] existing in
                let prior = try composition.composed(existing)
                let cumulative = composition.datasetEpsilon(prior, then: request.mechanism, delta: budget.delta)
                if cumulative > budget.totalEpsilon {
                    throw refusal(
                        request, requestEpsilon, cap: "budget.total_epsilon", capValue: budget.totalEpsilon,
                        spent: prior.dataset.spent(delta: budget.delta), after: cumulative)
                }
                try checkCap(
                    budget.perRole[request.role.rawValue], name: "budget.per_role.\(request.role)", request, requestEpsilon,
                    prior: prior.role(request.role.rawValue, method: method))
                try checkCap(
                    budget.perPrincipal[request.principal], name: "budget.per_principal.\(request.principal)", request,
                    requestEpsilon, prior: prior.principal(request.principal, method: method))
                let spend = BudgetSpend(
                    dataset: dataset, principal: request.principal, role: request.role.rawValue, purpose: request.purpose,
                    mechanism: mechanismJSON, epsilon: requestEpsilon, delta: budget.delta, cumulativeEpsilon: cumulative,
                    createdMillis: createdMillis)
                let details = details(of: spend, mechanism: mechanismValue)
                return LedgerEntry(spend: spend, audit: AuditDraft(actor: request.principal, action: .budgetSpend, details: details))
            }
            return BudgetReceipt(
                spendID: spend.id ?? 0, epsilon: spend.epsilon, delta: spend.delta,
                cumulativeEpsilon: spend.cumulativeEpsilon, remainingEpsilon: max(0, budget.totalEpsilon - spend.cumulativeEpsilon))
        } catch let refused as Refusal {
            try await audit.record(actor: request.principal, action: .budgetRefuse, details: refused.details)
            throw refused.error
        }
    }

    /// What a decision would compose first that need not hold the ledger's lock: spends of another
    /// process or replica whose mechanisms are not pure ε (`LedgerComposition.wouldComposeCostly`),
    /// composed by `prepare` exactly as the decision would compose them (so the decision then takes
    /// them over). A backend whose lock other replicas wait for runs it without the lock
    /// (`LedgerStore.reserve`).
    private var preparation: LedgerPreparation {
        LedgerPreparation(
            isCostly: { [composition] snapshot in composition.wouldComposeCostly(snapshot) },
            prepare: { [composition] snapshot in _ = try composition.composed(snapshot) })
    }

    /// Reads and composes the dataset's committed spends as a reservation's decision will, and keeps
    /// both (`LedgerStore.warm`, `LedgerComposition`), so that the first reservation after it neither
    /// reads nor composes the whole ledger under the ledger's lock — where, with several replicas,
    /// every other replica's reservations wait for it. `veil serve` calls it before it listens.
    /// Changes nothing stored and nothing a decision returns.
    public func warm() async throws {
        try await store.warm(dataset: dataset) { [composition] snapshot in _ = try composition.composed(snapshot) }
    }

    /// The dataset's budget: caps, what is spent (composed), what remains, per principal, and each spend.
    /// Each spend is composed once onto the dataset's running composition and once onto its
    /// principal's (`LedgerComposition.Running`: the same computation, in the same order, as composing
    /// each list from scratch, so the same bits), so a status costs one pass over the ledger.
    public func status() async throws -> BudgetStatus {
        let spends = try await store.spends(dataset: dataset)
        var whole = LedgerComposition.Running(method)
        // Each spend also carries its principal's composed ε so far: the per-principal timeline.
        var principals: [String: (role: String, composed: LedgerComposition.Running)] = [:]
        var rows: [BudgetStatus.Spend] = []
        for spend in spends {
            let mechanism = try Self.decode(spend.mechanism)
            whole.compose(mechanism)
            principals[spend.principal, default: (spend.role, LedgerComposition.Running(method))].composed.compose(mechanism)
            var row = BudgetStatus.Spend(spend: spend, mechanism: mechanism)
            row.principalCumulativeEpsilon = principals[spend.principal]?.composed.spent(delta: budget.delta)
            rows.append(row)
        }
        let spent = whole.spent(delta: budget.delta)
        let perPrincipal = principals.keys.sorted().map { name in
            let entry = principals[name]!
            return BudgetStatus.Principal(
                principal: name, role: entry.role, spentEpsilon: entry.composed.spent(delta: budget.delta),
                capEpsilon: budget.perPrincipal[name], roleCapEpsilon: budget.perRole[entry.role])
        }
        return BudgetStatus(
            dataset: dataset, accountant: method, totalEpsilon: budget.totalEpsilon, delta: budget.delta,
            maxEpsilonPerRequest: budget.maxEpsilonPerRequest, spentEpsilon: spent,
            remainingEpsilon: max(0, budget.totalEpsilon - spent), principals: perPrincipal, spends: rows)
    }

    // MARK: - Refusals

    /// A refusal on its way out of the transaction, with what the audit record needs.
    private struct Refusal: Error {
        let error: VeilError
        let details: [String: JSONValue]
    }

    private func checkCap(
        _ cap: Double?, name: String, _ request: BudgetRequest, _ requestEpsilon: Double, prior: LedgerComposition.Running
    ) throws {
        guard let cap else { return }
        let after = prior.epsilon(then: request.mechanism, delta: budget.delta)
        if after > cap {
            throw refusal(request, requestEpsilon, cap: name, capValue: cap, spent: prior.spent(delta: budget.delta), after: after)
        }
    }

    private func refusal(
        _ request: BudgetRequest, _ requestEpsilon: Double, cap: String, capValue: Double, spent: Double, after: Double
    ) -> Refusal {
        let remaining = max(0, capValue - spent)
        let message =
            "refused: \(request.purpose) asks for ε = \(Self.format(requestEpsilon)) (\(request.mechanism.name), δ = \(budget.delta)); "
            + "\(cap) is \(Self.format(capValue)), \(Self.format(spent)) spent, \(Self.format(remaining)) remaining; "
            + "this release would bring it to \(Self.format(after)). Nothing was spent."
        let details: [String: JSONValue] = [
            "dataset": .string(dataset), "principal": .string(request.principal), "role": .string(request.role.rawValue),
            "purpose": .string(request.purpose), "mechanism": Self.json(request.mechanism),
            "accountant": accountantJSON, "requested_epsilon": .double(requestEpsilon), "delta": .double(budget.delta),
            "cap": .string(cap),
            "cap_epsilon": .double(capValue), "spent_epsilon": .double(spent), "remaining_epsilon": .double(remaining),
        ]
        return Refusal(error: VeilError(.budgetExceeded, field: cap, message), details: details)
    }

    /// The `budget.spend` record's details; `mechanism` is the request's mechanism as JSON.
    private func details(of spend: BudgetSpend, mechanism: JSONValue) -> [String: JSONValue] {
        [
            "dataset": .string(spend.dataset), "principal": .string(spend.principal), "role": .string(spend.role),
            "purpose": .string(spend.purpose), "mechanism": mechanism,
            "accountant": accountantJSON, "epsilon": .double(spend.epsilon), "delta": .double(spend.delta),
            "cumulative_epsilon": .double(spend.cumulativeEpsilon),
        ]
    }

    // MARK: - Mechanism JSON

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The mechanism a stored spend's JSON names; throws `integrity` for one that names none.
    /// Remembered (`decoded`): every replica decodes every spend of the ledger, and a dataset's
    /// spends repeat a few mechanisms.
    static func decode(_ text: String) throws -> PrivacyMechanism {
        // Keyed by the bytes, as stored text is compared everywhere (`ExactText`).
        try decoded.value(for: ExactText(text)) { key in
            do {
                return try JSONDecoder().decode(PrivacyMechanism.self, from: Data(key.text.utf8))
            } catch {
                throw VeilError(
                    .integrity, field: "budget_spends.mechanism", "a stored spend has an unreadable mechanism; the ledger is damaged")
            }
        }
    }

    private static let decoded = BoundedMemo<ExactText, PrivacyMechanism>(capacity: 4_096)

    /// A requested mechanism as its spend stores it (`encode`) and as its audit records hold it (the
    /// JSON value of that text), remembered as `decode` is. Contract: `mechanism` is valid (its
    /// numbers are then finite and > 0, so equal mechanisms have the same bits and the same text).
    static func recordedForms(of mechanism: PrivacyMechanism) throws -> (text: String, value: JSONValue) {
        try recorded.value(for: mechanism) { mechanism in
            let text = try encode(mechanism)
            return (text, jsonValue(encoded: text))
        }
    }

    private static let recorded = BoundedMemo<PrivacyMechanism, (text: String, value: JSONValue)>(capacity: 4_096)

    /// A mechanism or an accountant as a JSON value for an audit record.
    package static func json(_ value: some Encodable) -> JSONValue {
        (try? encode(value)).map(jsonValue(encoded:)) ?? .null
    }

    /// The JSON value of text `encode` made.
    private static func jsonValue(encoded text: String) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .null
    }

    private static func format(_ value: Double) -> String { String(format: "%.4g", value) }
}

/// What `veil budget` and `GET /v1/budget` report.
public struct BudgetStatus: Sendable, Codable, Equatable {
    public struct Principal: Sendable, Codable, Equatable {
        public var principal: String
        public var role: String
        public var spentEpsilon: Double
        public var capEpsilon: Double?
        public var roleCapEpsilon: Double?

        enum CodingKeys: String, CodingKey {
            case principal, role
            case spentEpsilon = "spent_epsilon"
            case capEpsilon = "cap_epsilon"
            case roleCapEpsilon = "role_cap_epsilon"
        }
    }

    public struct Spend: Sendable, Codable, Equatable {
        public var id: Int64
        public var time: String
        public var principal: String
        public var role: String
        public var purpose: String
        public var mechanism: PrivacyMechanism
        public var epsilon: Double
        /// The dataset's composed ε after this spend.
        public var cumulativeEpsilon: Double
        /// This spend's principal's composed ε after it (their spends so far, by the same accountant).
        public var principalCumulativeEpsilon: Double?

        init(spend: BudgetSpend, mechanism: PrivacyMechanism) {
            id = spend.id ?? 0
            time = Date(timeIntervalSince1970: Double(spend.createdMillis) / 1000).formatted(.iso8601)
            principal = spend.principal
            role = spend.role
            purpose = spend.purpose
            self.mechanism = mechanism
            epsilon = spend.epsilon
            cumulativeEpsilon = spend.cumulativeEpsilon
        }

        enum CodingKeys: String, CodingKey {
            case id, time, principal, role, purpose, mechanism, epsilon
            case cumulativeEpsilon = "cumulative_epsilon"
            case principalCumulativeEpsilon = "principal_cumulative_epsilon"
        }
    }

    public var dataset: String
    /// The accountant that composes the spends (the policy's).
    public var accountant: AccountingMethod
    public var totalEpsilon: Double
    public var delta: Double
    public var maxEpsilonPerRequest: Double
    public var spentEpsilon: Double
    public var remainingEpsilon: Double
    public var principals: [Principal]
    public var spends: [Spend]

    enum CodingKeys: String, CodingKey {
        case dataset, accountant, delta, principals, spends
        case totalEpsilon = "total_epsilon"
        case maxEpsilonPerRequest = "max_epsilon_per_request"
        case spentEpsilon = "spent_epsilon"
        case remainingEpsilon = "remaining_epsilon"
    }
}
