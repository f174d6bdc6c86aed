import Foundation
import VeilCore
import VeilPrivacy

/// The accountant as the audit verifier needs it: ε at δ of a list of mechanism JSON descriptions
/// (as stored in `budget.spend` records), or nil when one cannot be read.
public enum AuditAccountant {
    public static func epsilon(of mechanisms: [JSONValue], delta: Double) -> Double? {
        let decoder = JSONDecoder()
        let encoder = JSONEncoder()
        var parsed: [PrivacyMechanism] = []
        for mechanism in mechanisms {
            guard let data = try? encoder.encode(mechanism),
                let value = try? decoder.decode(PrivacyMechanism.self, from: data)
            else { return nil }
            parsed.append(value)
        }
        return RDPAccountant.epsilon(composing: parsed, delta: delta).epsilon
    }
}
