import Foundation
import Testing
@testable import VeilPrivacy

/// Known answers from Google's dp_accounting 0.6.0 (`scripts/reference/rdp_reference.py`).
struct RDPReferenceTests {
    struct EpsilonCase: Decodable {
        let mechanisms: [PrivacyMechanism]
        let delta: Double
        let epsilon: Double
        let order: Double
    }

    struct Reference: Decodable {
        let orders: [Double]
        let epsilonAtDelta: [EpsilonCase]
        let deltaAtEpsilon: [EpsilonCase]

        enum CodingKeys: String, CodingKey {
            case orders
            case epsilonAtDelta = "epsilon_at_delta"
            case deltaAtEpsilon = "delta_at_epsilon"
        }
    }

    static let reference: Reference = {
        let url = Bundle.module.url(forResource: "rdp_reference", withExtension: "json", subdirectory: "Resources")!
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    /// Relative agreement required with dp_accounting.
    static let tolerance = 1e-6

    static func relativeError(_ actual: Double, _ expected: Double) -> Double {
        if actual == expected { return 0 }
        return abs(actual - expected) / max(abs(expected), 1e-300)
    }

    @Test func defaultOrdersAreDPAccountingDefaults() {
        #expect(RDPAccountant.defaultOrders == Self.reference.orders)
    }

    @Test func gridCoversTheRequiredParameters() {
        let grid = Self.reference.epsilonAtDelta.filter { $0.mechanisms.count == 1 && $0.mechanisms[0].name == "subsampled_gaussian" }
        #expect(grid.count == 5 * 5 * 5 * 2)
        #expect(Self.reference.epsilonAtDelta.contains { $0.mechanisms.first?.name == "gaussian" })
        #expect(Self.reference.epsilonAtDelta.contains { $0.mechanisms.first?.name == "laplace" })
    }

    @Test func epsilonMatchesDPAccountingForEveryRow() {
        // Cache curves by mechanism: the grid reuses each (q, σ) for several step counts and deltas.
        var curves: [PrivacyMechanism: [Double]] = [:]
        let orders = RDPAccountant.defaultOrders
        for row in Self.reference.epsilonAtDelta {
            var total = orders.map { _ in 0.0 }
            for mechanism in row.mechanisms {
                let curve = curves[mechanism] ?? mechanism.rdp(orders: orders)
                curves[mechanism] = curve
                for index in total.indices { total[index] += curve[index] }
            }
            let (epsilon, order) = RDPConversion.epsilon(orders: orders, rdp: total, delta: row.delta)
            #expect(Self.relativeError(epsilon, row.epsilon) <= Self.tolerance, "\(row.mechanisms) δ=\(row.delta): \(epsilon) vs \(row.epsilon)")
            #expect(order == row.order, "\(row.mechanisms) δ=\(row.delta)")
        }
    }

    @Test func accountantComposesLikeDPAccounting() throws {
        let row = try #require(Self.reference.epsilonAtDelta.last)
        #expect(row.mechanisms.count == 3)
        let result = RDPAccountant.epsilon(composing: row.mechanisms, delta: row.delta)
        #expect(Self.relativeError(result.epsilon, row.epsilon) <= Self.tolerance)
        #expect(result.order == row.order)
    }

    @Test func deltaMatchesDPAccounting() {
        for row in Self.reference.deltaAtEpsilon {
            var accountant = RDPAccountant()
            accountant.compose(row.mechanisms)
            let (delta, order) = accountant.delta(epsilon: row.epsilon)
            #expect(Self.relativeError(delta, row.delta) <= Self.tolerance, "ε=\(row.epsilon): \(delta) vs \(row.delta)")
            #expect(order == row.order)
        }
    }
}
