import VeilCore
import Yams

/// The YAML keys of a policy file and the rule for each (`policies/default.yaml` explains them).
enum PolicySchema {
    /// The roles a token can hold; `budget.per_role` may name only these.
    static let roles = Role.allCases.map(\.rawValue)

    static var root: [PolicyField<Policy>] {
        [
        .name("dataset", \.dataset),
        .section("budget", \.budget, budget),
        .section("privacy", \.privacy, privacy),
        .section("training", \.training, training),
        .section("ingest", \.ingest, ingest),
        .section("queries", \.queries, queries),
        .section("features", \.features, features),
        .section("sequences", \.sequences, sequences),
        .section("catalog", \.catalog, catalog),
        .names("categories", \.categories, rule: .label, allowEmpty: false),
        .properties("properties", \.properties),
        ]
    }

    /// A property rule's keys; the section starts from an invalid rule so that `type`, `min` and
    /// `max` are all required.
    static var property: [PolicyField<PropertyRule>] {
        [
        .choice("type", \.type),
        .number("min", \.min, .finite),
        .number("max", \.max, .finite),
        ]
    }

    static var budget: [PolicyField<Policy.Budget>] {
        [
        .number("total_epsilon", \.totalEpsilon, .positive),
        .number("delta", \.delta, .openUnitInterval),
        .number("max_epsilon_per_request", \.maxEpsilonPerRequest, .positive),
        .caps("per_role", \.perRole, allowed: roles),
        .caps("per_principal", \.perPrincipal, allowed: nil),
        ]
    }

    static var privacy: [PolicyField<Policy.Privacy>] {
        [
        .choice("accountant", \.accountant),
        ]
    }

    static var training: [PolicyField<Policy.Training>] {
        [
        .number("clipping_norm", \.clippingNorm, .positive),
        .flag("allow_non_private", \.allowNonPrivate),
        .flag("exact_holdout_metrics", \.exactHoldoutMetrics),
        .number("evaluation_share", \.evaluationShare, .within(Policy.Training.evaluationShareRange)),
        .integer("default_epochs", \.defaultEpochs, atLeast: 1),
        .integer("default_batch_size", \.defaultBatchSize, atLeast: 1),
        .number("default_learning_rate", \.defaultLearningRate, .learningRate),
        .perTask("task_defaults", \.taskDefaults, empty: Policy.Training.TaskDefaults(), fields: taskDefaults),
        ]
    }

    /// One task's entry of `training.task_defaults`: the same rules as the section's defaults.
    static var taskDefaults: [PolicyField<Policy.Training.TaskDefaults>] {
        [
        .optional(\.epochs, placeholder: 1, .integer("epochs", \.self, atLeast: 1)),
        .optional(\.batchSize, placeholder: 1, .integer("batch_size", \.self, atLeast: 1)),
        .optional(\.learningRate, placeholder: 1, .number("learning_rate", \.self, .learningRate)),
        .optional(\.models, placeholder: [], .choices("models", \.self)),
        ]
    }

    static var ingest: [PolicyField<Policy.Ingest>] {
        [
        .integer("max_batch_events", \.maxBatchEvents, atLeast: 1),
        .integer("max_body_bytes", \.maxBodyBytes, atLeast: 1),
        .names("drop_fields", \.dropFields, rule: .identifier, allowEmpty: true),
        .integer("max_future_skew_seconds", \.maxFutureSkewSeconds, atLeast: 0),
        .day("earliest_event_date", \.earliestEventDay),
        .number("max_price", \.maxPrice, .positive),
        .integer("max_quantity", \.maxQuantity, atLeast: 1),
        ]
    }

    static var queries: [PolicyField<Policy.Queries>] {
        [
        .integer("max_groups_per_user", \.maxGroupsPerUser, atLeast: 1),
        .integer("max_contributions_per_group", \.maxContributionsPerGroup, atLeast: 1),
        .valueBounds("value_bounds", \.valueBounds),
        ]
    }

    static var features: [PolicyField<Policy.Features>] {
        [
        .number("max_events_per_type", \.maxEventsPerType, .positive),
        .number("max_distinct", \.maxDistinct, .positive),
        .number("max_days", \.maxDays, .positive),
        .number("max_spend", \.maxSpend, .positive),
        .number("max_order_value", \.maxOrderValue, .positive),
        ]
    }

    static var sequences: [PolicyField<Sequences>] {
        [
        .integer("length", \.length, in: 1...1_000),
        .increasingNumbers("gap_bounds_seconds", \.gapBoundsSeconds, .positive),
        .increasingNumbers("price_bounds", \.priceBounds, .positive),
        .increasingNumbers("time_to_cutoff_bounds_seconds", \.timeToCutoffBoundsSeconds, .positive),
        ]
    }

    static var catalog: [PolicyField<Catalog>] {
        [
        .path("items_file", \.itemsFile),
        .integer("max_selected_items", \.maxSelectedItems, in: 1...100_000),
        ]
    }

    static var bounds: [PolicyField<ValueBounds>] {
        [
        .number("lower", \.lower, .finite),
        .number("upper", \.upper, .finite),
        ]
    }
}

extension PolicyField {
    /// Public value bounds by value name. Only the value names Veil knows (the keys of the default
    /// `Policy.Queries.valueBounds`) are accepted; an entry starts from that value's default bounds, so a
    /// policy may override `lower` or `upper` alone. `lower < upper` is checked per entry.
    static func valueBounds(_ key: String, _ path: WritableKeyPath<Root, [String: ValueBounds]>) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let mapping = node.mapping else {
                return log.fail(dotted, "must be a section of value names, got \(YAMLValue.kind(of: node))", at: node)
            }
            let defaults = Policy.Queries().valueBounds
            var merged = root[keyPath: path]
            for (nameNode, entryNode) in mapping {
                guard let name = NameRule.identifier.read(nameNode, dotted, &log) else { continue }
                let entry = "\(dotted).\(name)"
                guard let start = defaults[name] else {
                    let known = defaults.keys.sorted().joined(separator: ", ")
                    log.fail(entry, "is not a known value; the values are \(known)", at: nameNode)
                    continue
                }
                var bounds = merged[name] ?? start
                let before = log.issues.count
                MappingReader.read(entryNode, section: entry, fields: PolicySchema.bounds, into: &bounds, log: &log)
                guard log.issues.count == before else { continue }
                guard bounds.lower < bounds.upper else {
                    log.fail(entry, "lower (\(NumberText.format(bounds.lower))) must be less than upper (\(NumberText.format(bounds.upper)))", at: entryNode)
                    continue
                }
                merged[name] = bounds
            }
            root[keyPath: path] = merged
        }
    }
}

extension PolicyField {
    /// The free-form event properties kept, by key (an identifier): `key: {type: int|number, min, max}`,
    /// all three required, `min <= max`, and whole bounds for `int`.
    static func properties(_ key: String, _ path: WritableKeyPath<Root, [String: PropertyRule]>) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let mapping = node.mapping else {
                return log.fail(dotted, "must be a section of property keys, got \(YAMLValue.kind(of: node))", at: node)
            }
            var rules: [String: PropertyRule] = [:]
            for (nameNode, entryNode) in mapping {
                guard let name = NameRule.identifier.read(nameNode, dotted, &log) else { continue }
                let entry = "\(dotted).\(name)"
                guard let entryMapping = entryNode.mapping else {
                    log.fail(entry, "must be a section with type, min and max, got \(YAMLValue.kind(of: entryNode))", at: entryNode)
                    continue
                }
                let given = Set(entryMapping.compactMap { YAMLValue.text($0.key) })
                let before = log.issues.count
                var rule = PropertyRule(type: .number, min: 0, max: 0)
                MappingReader.read(entryNode, section: entry, fields: PolicySchema.property, into: &rule, log: &log)
                guard log.issues.count == before else { continue }
                if let missing = ["type", "min", "max"].first(where: { !given.contains($0) }) {
                    log.fail(entry, "needs \(missing) (type int or number, min and max: the public bounds of the value)", at: entryNode)
                    continue
                }
                guard rule.min <= rule.max else {
                    log.fail(entry, "min (\(NumberText.format(rule.min))) must not be greater than max (\(NumberText.format(rule.max)))", at: entryNode)
                    continue
                }
                guard rule.type == .number || (rule.min == rule.min.rounded() && rule.max == rule.max.rounded()) else {
                    log.fail(entry, "min and max of an int property must be whole numbers", at: entryNode)
                    continue
                }
                rules[name] = rule
            }
            root[keyPath: path] = rules
        }
    }
}
