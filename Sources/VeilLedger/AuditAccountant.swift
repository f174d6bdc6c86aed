import Foundation
import VeilAudit
import VeilCore
import VeilPrivacy

/// The accountant as the audit verifier needs it: the cumulative ε of the mechanism JSON descriptions
/// of a dataset's spends so far (as stored in `budget.spend` records), composed with the accountant
/// the latest record names.
public enum AuditAccountant {
    /// A recomputation for `AuditVerifier.verify`. A record's `accountant` (`AccountingMethod`'s JSON)
    /// names how its `cumulative_epsilon` was computed; a record without one was written before spends
    /// recorded their accountant, when the ledger always used RDP, so it is recomputed with RDP. The
    /// recomputation is nil when a mechanism or the accountant cannot be read. Spends are composed in
    /// order as the ledger composes them, remembering the composition of the records checked so far.
    public static func recomputation() -> AuditVerifier.EpsilonRecomputation {
        let composer = SpendComposer()
        var decoded: [JSONValue: PrivacyMechanism] = [:]
        return { mechanisms, delta, accountant in
            guard let method = method(recorded: accountant) else { return nil }
            var parsed: [PrivacyMechanism] = []
            parsed.reserveCapacity(mechanisms.count)
            for json in mechanisms {
                guard let mechanism = decoded[json] ?? decode(PrivacyMechanism.self, json) else { return nil }
                decoded[json] = mechanism
                parsed.append(mechanism)
            }
            return composer.epsilon(composing: parsed, delta: delta, method: method)
        }
    }

    /// The accountant a spend record names, RDP for a record that names none; nil when unreadable.
    static func method(recorded json: JSONValue?) -> AccountingMethod? {
        guard let json else { return .rdp }
        return decode(AccountingMethod.self, json)
    }

    private static func decode<Value: Decodable>(_ type: Value.Type, _ json: JSONValue) -> Value? {
        guard let data = try? JSONEncoder().encode(json) else { return nil }
        return try? JSONDecoder().decode(type, from: data)
    }
}
