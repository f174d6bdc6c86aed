import VeilCore

/// Which roles may call which part of the API — the one definition `buildRouter` guards the routes with
/// and `GET /v1/session` tells the console (which shows only what the token may see). `admin` may call
/// everything (`Role.permits`).
enum AccessRules {
    /// One area of the API and the roles that may use it.
    enum Area: String, CaseIterable, Encodable {
        case events, subjects, stats, budget, audit, queries, models, review, training, predict

        var roles: Set<Role> {
            switch self {
            case .events: [.ingest]
            case .subjects: [.admin]
            case .stats: [.admin]
            case .budget: [.analyst, .reviewer, .auditor]
            case .audit: [.auditor]
            case .queries: [.analyst]
            case .models: [.reviewer, .trainer, .analyst, .auditor]
            case .review: [.reviewer]
            case .training: [.trainer]
            case .predict: [.analyst]
            }
        }
    }

    /// The areas a holder of `role` may use, in declaration order.
    static func areas(for role: Role) -> [Area] {
        Area.allCases.filter { $0.roles.contains(where: role.permits) }
    }

    /// Whether `role` sees a model's quality gate — `quality_gate` on its card and the record's
    /// `quality_override` — whose verdict is read off the exact holdout metrics (not covered by ε): only
    /// who reviews models (the `review` area: an approval needs to know it) and who audits them (the
    /// `audit` area, whose log's `model.approve` records carry the override anyway). Analysts and
    /// trainers see neither.
    static func seesQualityGate(_ role: Role?) -> Bool {
        guard let role else { return false }
        let areas = areas(for: role)
        return areas.contains(.review) || areas.contains(.audit)
    }
}
