import VeilCore

/// An accountant and its parameters: everything needed to recompute a number it produced. Its JSON
/// form names the accountant under `accountant`, followed by its parameters:
///
/// ```json
/// {"accountant": "pld", "value_discretization_interval": 0.0001, "tail_mass_truncation": 1e-15, "log_mass_truncation_bound": -50}
/// {"accountant": "rdp", "orders": "dp_accounting_default"}
/// ```
///
/// Decoding rejects an unknown accountant, unknown keys and parameters out of range.
public enum AccountingMethod: Sendable, Hashable {
    /// Rényi DP at `RDPAccountant.defaultOrders`.
    case rdp
    /// Privacy loss distributions with these parameters.
    case pld(PLDParameters)

    /// The accountant of `kind` with its default parameters.
    public init(_ kind: AccountantKind) {
        switch kind {
        case .rdp: self = .rdp
        case .pld: self = .pld(PLDParameters())
        }
    }

    public var kind: AccountantKind {
        switch self {
        case .rdp: .rdp
        case .pld: .pld
        }
    }
}

extension AccountingMethod: Codable {
    private enum CodingKeys: String, CodingKey, CaseIterable {
        case accountant, orders
        case valueDiscretizationInterval = "value_discretization_interval"
        case tailMassTruncation = "tail_mass_truncation"
        case logMassTruncationBound = "log_mass_truncation_bound"
    }

    /// The value of `orders` for `RDPAccountant.defaultOrders` (the only orders Veil uses).
    static let defaultOrdersName = "dp_accounting_default"

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .accountant)
        let allowed: Set<String>
        switch AccountantKind(rawValue: kind) {
        case .rdp:
            guard try container.decode(String.self, forKey: .orders) == Self.defaultOrdersName else {
                throw DecodingError.dataCorruptedError(
                    forKey: .orders, in: container, debugDescription: "orders must be \(Self.defaultOrdersName)")
            }
            allowed = [CodingKeys.accountant.rawValue, CodingKeys.orders.rawValue]
            self = .rdp
        case .pld:
            let parameters = PLDParameters(
                valueDiscretizationInterval: try container.decode(Double.self, forKey: .valueDiscretizationInterval),
                tailMassTruncation: try container.decode(Double.self, forKey: .tailMassTruncation),
                logMassTruncationBound: try container.decode(Double.self, forKey: .logMassTruncationBound))
            try parameters.validate()
            allowed = Set(CodingKeys.allCases.filter { $0 != .orders }.map(\.rawValue))
            self = .pld(parameters)
        case nil:
            throw DecodingError.dataCorruptedError(
                forKey: .accountant, in: container, debugDescription: "accountant must be one of pld, rdp")
        }
        try StrictKeys.require(decoder, allowed: allowed)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.rawValue, forKey: .accountant)
        switch self {
        case .rdp:
            try container.encode(Self.defaultOrdersName, forKey: .orders)
        case let .pld(parameters):
            try container.encode(parameters.valueDiscretizationInterval, forKey: .valueDiscretizationInterval)
            try container.encode(parameters.tailMassTruncation, forKey: .tailMassTruncation)
            try container.encode(parameters.logMassTruncationBound, forKey: .logMassTruncationBound)
        }
    }
}

/// An accountant chosen by value (`AccountingMethod`): the one interface callers use to compose
/// releases and convert to (ε, δ), whichever accountant the policy or the request names.
public struct PrivacyAccountant: Sendable {
    private enum State: Sendable {
        case rdp(RDPAccountant)
        case pld(PLDAccountant)
    }

    public let method: AccountingMethod
    private var state: State

    /// An accountant that has composed nothing. Contract: PLD parameters pass `validate()`.
    public init(_ method: AccountingMethod) {
        self.method = method
        switch method {
        case .rdp: state = .rdp(RDPAccountant())
        case let .pld(parameters): state = .pld(PLDAccountant(parameters: parameters))
        }
    }

    /// Adds a release. An invalid mechanism makes every ε infinite.
    public mutating func compose(_ mechanism: PrivacyMechanism) {
        switch state {
        case var .rdp(accountant):
            accountant.compose(mechanism)
            state = .rdp(accountant)
        case var .pld(accountant):
            accountant.compose(mechanism)
            state = .pld(accountant)
        }
    }

    /// Adds each of `mechanisms`.
    public mutating func compose(_ mechanisms: some Sequence<PrivacyMechanism>) {
        for mechanism in mechanisms { compose(mechanism) }
    }

    /// The smallest ε for which everything composed is (ε, `delta`)-DP (see each accountant's contract).
    public func epsilon(delta: Double) -> Double {
        switch state {
        case let .rdp(accountant): accountant.epsilon(delta: delta).epsilon
        case let .pld(accountant): accountant.epsilon(delta: delta)
        }
    }

    /// The smallest δ for which everything composed is (`epsilon`, δ)-DP. Contract: `epsilon ≥ 0`.
    public func delta(epsilon: Double) -> Double {
        switch state {
        case let .rdp(accountant): accountant.delta(epsilon: epsilon).delta
        case let .pld(accountant): accountant.delta(epsilon: epsilon)
        }
    }

    /// The Rényi order attaining `epsilon(delta:)`, for an RDP accountant; nil for PLD.
    public func optimalOrder(delta: Double) -> Double? {
        guard case let .rdp(accountant) = state else { return nil }
        return accountant.epsilon(delta: delta).order
    }

    /// ε at `delta` of `mechanisms` composed on a fresh accountant of `method`.
    public static func epsilon(composing mechanisms: [PrivacyMechanism], delta: Double, method: AccountingMethod) -> Double {
        var accountant = PrivacyAccountant(method)
        accountant.compose(mechanisms)
        return accountant.epsilon(delta: delta)
    }
}
