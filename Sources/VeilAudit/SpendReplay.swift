import VeilCore

/// Replays `budget.spend` records through an accountant — the one each record names — and compares
/// each record's `cumulative_epsilon` with the recomputed value (relative tolerance 1e-9), per dataset.
struct SpendReplay {
    static let tolerance = 1e-9

    let recompute: AuditVerifier.EpsilonRecomputation?
    private var mechanisms: [String: [JSONValue]] = [:]
    private(set) var checked = 0

    init(recompute: AuditVerifier.EpsilonRecomputation?) { self.recompute = recompute }

    /// Checks one record; returns the reason when it fails. Records other than spends pass.
    mutating func check(_ body: AuditBody) -> String? {
        guard let recompute, body.action == AuditAction.budgetSpend.rawValue else { return nil }
        let details = body.details
        guard let mechanism = details["mechanism"], let delta = Self.number(details["delta"]),
            let claimed = Self.number(details["cumulative_epsilon"])
        else {
            return "a budget.spend record must carry mechanism, delta and cumulative_epsilon in its details"
        }
        let dataset: String
        if case .string(let name)? = details["dataset"] { dataset = name } else { dataset = "" }
        mechanisms[dataset, default: []].append(mechanism)
        guard let recomputed = recompute(mechanisms[dataset]!, delta, details["accountant"]) else {
            return "the accountant cannot evaluate the mechanisms spent so far on this dataset"
        }
        guard abs(recomputed - claimed) <= Self.tolerance * max(abs(recomputed), abs(claimed)) else {
            return "cumulative_epsilon is \(claimed) but the spends so far compose to \(recomputed)"
        }
        checked += 1
        return nil
    }

    var summary: EpsilonCheck {
        guard recompute != nil else {
            return EpsilonCheck(
                performed: false, spendsChecked: 0,
                note: "cumulative ε not recomputed: no accountant was supplied to the verifier")
        }
        return EpsilonCheck(
            performed: true, spendsChecked: checked,
            note: "cumulative ε of \(checked) spend record(s) recomputed within relative tolerance \(Self.tolerance)")
    }

    private static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let number)?: Double(number)
        case .double(let number)?: number
        default: nil
        }
    }
}
