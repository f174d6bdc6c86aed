import Foundation
import Testing
import VeilCore
import VeilPolicy

/// The repository root, for the shipped policies.
private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The issues `yaml` produces (empty when it is valid).
private func issues(_ yaml: String) -> [PolicyIssue] {
    switch PolicyLoader.parse(yaml: yaml) {
    case .success: []
    case .failure(let failure): failure.issues
    }
}

@Suite struct ShippedPolicyTests {
    @Test(arguments: ["default.yaml", "strict.yaml"])
    func shippedPolicyLoads(file: String) throws {
        let path = repositoryRoot.appendingPathComponent("policies/\(file)").path
        let loaded = try PolicyLoader.load(path: path)
        #expect(loaded.path == path)
        #expect(loaded.hash.count == 64)
        #expect(loaded.hash.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test func defaultFileMatchesBuiltInDefaults() throws {
        let loaded = try PolicyLoader.load(path: repositoryRoot.appendingPathComponent("policies/default.yaml").path)
        #expect(loaded.policy == Policy())
    }

    @Test func strictIsStricterThanDefault() throws {
        let strict = try PolicyLoader.load(path: repositoryRoot.appendingPathComponent("policies/strict.yaml").path).policy
        let base = Policy()
        #expect(strict.budget.totalEpsilon < base.budget.totalEpsilon)
        #expect(strict.budget.maxEpsilonPerRequest < base.budget.maxEpsilonPerRequest)
        #expect(!strict.training.allowNonPrivate)
        #expect(strict.ingest.maxBatchEvents < base.ingest.maxBatchEvents)
        #expect(strict.budget.perRole["trainer"] == 2)
        // value bounds merge with the defaults: quantity was not mentioned.
        #expect(strict.queries.valueBounds["quantity"] == base.queries.valueBounds["quantity"])
        #expect(strict.queries.valueBounds["revenue"] == ValueBounds(lower: 0, upper: 200))
    }

    @Test func hashIsOfTheExactBytes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("a.yaml")
        let second = directory.appendingPathComponent("b.yaml")
        try Data("budget:\n  total_epsilon: 5\n".utf8).write(to: first)
        try Data("budget:\n  total_epsilon: 5\n# comment\n".utf8).write(to: second)
        let a = try PolicyLoader.load(path: first.path)
        let b = try PolicyLoader.load(path: second.path)
        #expect(a.policy == b.policy)
        #expect(a.hash != b.hash)
    }

    @Test func missingFileIsNotFound() {
        #expect(throws: VeilError.self) { try PolicyLoader.load(path: "/nonexistent/policy.yaml") }
    }
}

@Suite struct PolicyValidationTests {
    @Test func emptyDocumentIsTheDefaultPolicy() throws {
        #expect(try PolicyLoader.parse(yaml: "").get() == Policy())
        #expect(try PolicyLoader.parse(yaml: "# nothing\n").get() == Policy())
    }

    /// Exact holdout metrics reach reviewers only when a policy says so (off by default).
    @Test func exactHoldoutMetricsAreOffUnlessAllowed() throws {
        #expect(Policy().training.exactHoldoutMetrics == false)
        #expect(try PolicyLoader.parse(yaml: "training:\n  exact_holdout_metrics: true\n").get().training.exactHoldoutMetrics)
        #expect(issues("training:\n  exact_holdout_metrics: sometimes\n").map(\.field) == ["training.exact_holdout_metrics"])
    }

    /// The private evaluation's share of a run's budget: 5 % unless the policy names another in [0.01, 0.5].
    @Test func evaluationShareIsNamedWithinItsRange() throws {
        #expect(Policy().training.evaluationShare == 0.05)
        #expect(try PolicyLoader.parse(yaml: "training:\n  evaluation_share: 0.2\n").get().training.evaluationShare == 0.2)
        #expect(try PolicyLoader.parse(yaml: "training:\n  evaluation_share: 0.5\n").get().training.evaluationShare == 0.5)
        for bad in ["0", "0.005", "0.6", "1", "-0.1", ".nan", "half"] {
            let found = issues("training:\n  evaluation_share: \(bad)\n")
            #expect(found.map(\.field) == ["training.evaluation_share"], "\(bad)")
            #expect(found.first?.line == 2)
        }
        #expect(issues("training:\n  evaluation_share: 0.6\n").first?.rule == "must be between 0.01 and 0.5 (got 0.6)")
    }

    @Test func missingKeysFallBackToDefaults() throws {
        let policy = try PolicyLoader.parse(yaml: "budget:\n  total_epsilon: 2\n  max_epsilon_per_request: 1\n").get()
        var expected = Policy()
        expected.budget.totalEpsilon = 2
        expected.budget.maxEpsilonPerRequest = 1
        #expect(policy == expected)
    }

    @Test func unknownKeyNamesKeyAndLine() {
        let found = issues("dataset: shop\nbudget:\n  total_epsilon: 5\n  totl_epsilon: 3\n")
        #expect(found == [PolicyIssue(field: "budget.totl_epsilon", rule: found.first?.rule ?? "", line: 4)])
        #expect(found.first?.rule.contains("total_epsilon") == true)  // lists the known keys
        let error = found[0].error
        #expect(error.code == .invalidInput)
        #expect(error.field == "budget.totl_epsilon")
        #expect(error.message.hasSuffix("(line 4)"))
    }

    /// `properties:` lists the free-form event properties kept, each with its type and public bounds.
    @Test func propertiesNeedATypeAndBoundsAndErrorsNameKeyAndLine() throws {
        let policy = try PolicyLoader.parse(
            yaml: "properties:\n  quantity: {type: int, min: 0, max: 100}\n  weight_kg:\n    type: number\n    min: 0\n    max: 2.5\n"
        ).get()
        #expect(policy.properties == [
            "quantity": PropertyRule(type: .int, min: 0, max: 100), "weight_kg": PropertyRule(type: .number, min: 0, max: 2.5),
        ])
        #expect(PropertyRule(type: .int, min: 0, max: 100).admits(7) && !PropertyRule(type: .int, min: 0, max: 100).admits(7.5))
        #expect(!PropertyRule(type: .number, min: 0, max: 1).admits(.nan) && !PropertyRule(type: .number, min: 0, max: 1).admits(1.5))
        let found = issues(
            "properties:\n  a: {type: int, min: 0}\n  b: {type: text, min: 0, max: 1}\n  c: {type: number, min: 5, max: 1}\n  d: {type: int, min: 0.5, max: 2}\n  e: 3\n  f: {type: int, min: 0, max: 1, unit: kg}\n")
        #expect(found.map(\.field) == ["properties.a", "properties.b.type", "properties.c", "properties.d", "properties.e", "properties.f.unit"])
        #expect(found.map(\.line) == [2, 3, 4, 5, 6, 7])
        #expect(found[0].rule.contains("needs max"))
        #expect(found[1].rule.contains("must be one of int, number"))
        #expect(found[2].rule.contains("must not be greater than max"))
        #expect(found[3].rule.contains("whole numbers"))
    }

    @Test func unknownTopLevelKey() {
        let found = issues("colour: blue\n")
        #expect(found.map(\.field) == ["colour"])
        #expect(found.map(\.line) == [1])
    }

    @Test func wrongTypeNamesKeyAndLine() {
        let found = issues("budget:\n  total_epsilon: \"5\"\ntraining:\n  allow_non_private: maybe\n  default_epochs: 2.5\n")
        #expect(found.map(\.field) == ["budget.total_epsilon", "training.allow_non_private", "training.default_epochs"])
        #expect(found.map(\.line) == [2, 4, 5])
        #expect(found[0].rule.contains("must be a number"))
        #expect(found[1].rule.contains("true or false"))
        #expect(found[2].rule.contains("whole number"))
    }

    @Test func sectionOfWrongType() {
        let found = issues("budget: 5\n")
        #expect(found.map(\.field) == ["budget"])
        #expect(found.map(\.line) == [1])
    }

    @Test(arguments: [
        ("budget:\n  total_epsilon: 0\n", "budget.total_epsilon", 2),
        ("budget:\n  total_epsilon: .inf\n", "budget.total_epsilon", 2),
        ("budget:\n  total_epsilon: .nan\n", "budget.total_epsilon", 2),
        ("budget:\n  delta: 1\n", "budget.delta", 2),
        ("budget:\n  delta: 0\n", "budget.delta", 2),
        ("budget:\n  total_epsilon: 2\n  max_epsilon_per_request: 3\n", "budget.max_epsilon_per_request", 3),
        ("budget:\n  per_role:\n    trainer: 0\n", "budget.per_role.trainer", 3),
        ("budget:\n  per_role:\n    janitor: 1\n", "budget.per_role.janitor", 3),
        ("budget:\n  per_principal:\n    cli: -1\n", "budget.per_principal.cli", 3),
        ("budget:\n  per_principal:\n    cli: 11\n", "budget.per_principal.cli", 3),
        ("training:\n  clipping_norm: -0.5\n", "training.clipping_norm", 2),
        ("training:\n  default_batch_size: 0\n", "training.default_batch_size", 2),
        ("training:\n  default_learning_rate: 0\n", "training.default_learning_rate", 2),
        ("training:\n  default_learning_rate: 10.5\n", "training.default_learning_rate", 2),
        ("training:\n  task_defaults: 5\n", "training.task_defaults", 2),
        ("training:\n  task_defaults:\n    nxt_item:\n      epochs: 3\n", "training.task_defaults.nxt_item", 3),
        ("training:\n  task_defaults:\n    next_item: 5\n", "training.task_defaults.next_item", 3),
        ("training:\n  task_defaults:\n    next_item:\n      batch_size: 0\n", "training.task_defaults.next_item.batch_size", 4),
        ("training:\n  task_defaults:\n    churn:\n      epochs: 2.5\n", "training.task_defaults.churn.epochs", 4),
        ("training:\n  task_defaults:\n    next_item:\n      learning_rate: -1\n", "training.task_defaults.next_item.learning_rate", 4),
        ("training:\n  task_defaults:\n    next_item:\n      batchsize: 10\n", "training.task_defaults.next_item.batchsize", 4),
        ("training:\n  task_defaults:\n    next_item:\n      models: []\n", "training.task_defaults.next_item.models", 4),
        ("training:\n  task_defaults:\n    next_item:\n      models: gru\n", "training.task_defaults.next_item.models", 4),
        ("training:\n  task_defaults:\n    next_item:\n      models: [gru, rnn]\n", "training.task_defaults.next_item.models[1]", 4),
        ("training:\n  task_defaults:\n    next_item:\n      models: [gru, gru]\n", "training.task_defaults.next_item.models[1]", 4),
        ("ingest:\n  max_batch_events: 0\n", "ingest.max_batch_events", 2),
        ("ingest:\n  max_future_skew_seconds: -1\n", "ingest.max_future_skew_seconds", 2),
        ("queries:\n  value_bounds:\n    revenue:\n      lower: 10\n      upper: 10\n", "queries.value_bounds.revenue", 4),
        ("queries:\n  value_bounds:\n    salary:\n      lower: 0\n", "queries.value_bounds.salary", 3),
        ("features:\n  max_spend: 0\n", "features.max_spend", 2),
        ("categories: []\n", "categories", 1),
        ("categories:\n  - toys\n  - toys\n", "categories[1]", 3),
        ("dataset: \"\"\n", "dataset", 1),
        ("dataset: my shop\n", "dataset", 1),
        ("categories:\n  - \" toys\"\n", "categories[0]", 2),
        ("ingest:\n  drop_fields: [query, 7]\n", "ingest.drop_fields[1]", 2),
        ("sequences:\n  length: 0\n", "sequences.length", 2),
        ("sequences:\n  length: 1001\n", "sequences.length", 2),
        ("sequences:\n  length: 2.5\n", "sequences.length", 2),
        ("sequences:\n  gap_bounds_seconds: []\n", "sequences.gap_bounds_seconds", 2),
        ("sequences:\n  gap_bounds_seconds: 60\n", "sequences.gap_bounds_seconds", 2),
        ("sequences:\n  gap_bounds_seconds:\n    - 60\n    - 60\n", "sequences.gap_bounds_seconds[1]", 4),
        ("sequences:\n  price_bounds: [5, -1]\n", "sequences.price_bounds[1]", 2),
        ("sequences:\n  price_bounds: [5, .inf]\n", "sequences.price_bounds[1]", 2),
        ("sequences:\n  price_bounds: [5, ten]\n", "sequences.price_bounds[1]", 2),
        ("sequences:\n  time_to_cutoff_bounds_seconds: []\n", "sequences.time_to_cutoff_bounds_seconds", 2),
        ("sequences:\n  time_to_cutoff_bounds_seconds: [3600, 0]\n", "sequences.time_to_cutoff_bounds_seconds[1]", 2),
        ("sequences:\n  time_to_cutoff_bounds_seconds: [86400, 3600]\n", "sequences.time_to_cutoff_bounds_seconds[1]", 2),
        ("sequences:\n  window: 5\n", "sequences.window", 2),
        ("catalog:\n  items_file: 5\n", "catalog.items_file", 2),
        ("catalog:\n  items_file: \"\"\n", "catalog.items_file", 2),
        ("catalog:\n  items_file: [a.csv]\n", "catalog.items_file", 2),
        ("catalog:\n  max_selected_items: 0\n", "catalog.max_selected_items", 2),
        ("catalog:\n  items: a.csv\n", "catalog.items", 2),
    ])
    func outOfRangeNamesKeyAndLine(yaml: String, field: String, line: Int) {
        let found = issues(yaml)
        #expect(found.map(\.field) == [field])
        #expect(found.map(\.line) == [line])
        #expect(found.first?.error.message.hasSuffix("(line \(line))") == true)
    }

    /// `task_defaults` replaces the built-in map (`next_item`'s GRU plan) whole; an entry sets only what
    /// it gives, the rest falling back to the section's defaults, and only for the families it names.
    @Test func taskDefaultsReplaceTheBuiltInMap() throws {
        #expect(Policy().training.taskDefaults == [.nextItem: Policy.Training.nextItemDefaults])
        let yaml = """
            training:
              default_epochs: 7
              task_defaults:
                churn:
                  epochs: 3
                next_item:
                  batch_size: 100
                  learning_rate: 0.5
                  models: [cnn]
            """
        let training = try PolicyLoader.parse(yaml: yaml).get().training
        #expect(training.taskDefaults == [.churn: .init(epochs: 3), .nextItem: .init(batchSize: 100, learningRate: 0.5, models: [.cnn])])
        #expect(training.epochs(for: .churn, model: .mlp) == 3 && training.batchSize(for: .churn, model: .mlp) == 512)
        #expect(training.epochs(for: .nextItem, model: .cnn) == 7 && training.batchSize(for: .nextItem, model: .cnn) == 100)
        #expect(training.learningRate(for: .nextItem, model: .cnn) == 0.5 && training.learningRate(for: .purchase, model: .cnn) == 0.02)
        #expect(training.batchSize(for: .nextItem, model: .gru) == 512 && training.learningRate(for: .nextItem, model: .gru) == 0.02)
        #expect(training.batchSizeKey(for: .nextItem, model: .cnn) == "training.task_defaults.next_item.batch_size")
        #expect(training.batchSizeKey(for: .nextItem, model: .gru) == "training.default_batch_size")
        #expect(training.batchSizeKey(for: .churn, model: .logistic) == "training.default_batch_size")
        let cleared = try PolicyLoader.parse(yaml: "training:\n  task_defaults: {}\n").get().training
        #expect(cleared.taskDefaults.isEmpty && cleared.batchSize(for: .nextItem, model: .gru) == 512)
        let unknown = issues("training:\n  task_defaults:\n    nxt_item:\n      epochs: 3\n")
        #expect(unknown.map(\.rule) == ["is not a task; the tasks are purchase, churn, next_category, next_item"])
    }

    @Test func theCatalogueIsAPath() throws {
        let policy = try PolicyLoader.parse(yaml: "catalog:\n  items_file: shop/catalog.csv\n  max_selected_items: 500\n").get()
        #expect(policy.catalog.itemsFile == "shop/catalog.csv" && policy.catalog.maxSelectedItems == 500)
        #expect(try PolicyLoader.parse(yaml: "dataset: x\n").get().catalog.itemsFile == nil)
    }

    @Test func reportsEveryProblemNotOnlyTheFirst() {
        let found = issues("budget:\n  total_epsilon: -1\n  delta: 2\nfeatures:\n  max_days: 0\nbogus: 1\n")
        #expect(found.map(\.field) == ["budget.total_epsilon", "budget.delta", "features.max_days", "bogus"])
        #expect(found.map(\.line) == [2, 3, 5, 6])
    }

    @Test func loadThrowsTheFirstProblemAndCountsTheRest() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.yaml")
        try Data("budget:\n  total_epsilon: -1\n  delta: 2\n".utf8).write(to: file)
        let error = #expect(throws: VeilError.self) { try PolicyLoader.load(path: file.path) }
        #expect(error?.field == "budget.total_epsilon")
        #expect(error?.message.contains("(line 2)") == true)
        #expect(error?.message.contains("1 more problem") == true)
    }

    @Test func syntaxErrorHasALine() {
        let found = issues("budget:\n  total_epsilon: [1, 2\n")
        #expect(found.count == 1)
        #expect(found.first?.field == nil)
        #expect(found.first?.line != nil)
    }

    @Test func duplicateKeyIsAnError() {
        let found = issues("budget:\n  delta: 0.001\n  delta: 0.002\n")
        #expect(found.count == 1)
        #expect(found.first?.rule.contains("delta") == true)
    }

    @Test func categoriesAreShopVocabulary() throws {
        let policy = try PolicyLoader.parse(yaml: "categories:\n  - Home & Garden\n  - Électronique\n").get()
        #expect(policy.categories == ["Home & Garden", "Électronique"])
    }

    @Test func sequenceBoundsAreRead() throws {
        let policy = try PolicyLoader.parse(yaml: "sequences:\n  length: 20\n  price_bounds: [1, 2.5, 100]\n").get()
        #expect(policy.sequences.length == 20)
        #expect(policy.sequences.priceBounds == [1, 2.5, 100])
        #expect(policy.sequences.gapBoundsSeconds == Sequences().gapBoundsSeconds)
    }

    @Test func timeToCutoffBoundsAreRead() throws {
        let policy = try PolicyLoader.parse(yaml: "sequences:\n  time_to_cutoff_bounds_seconds: [3600, 86400]\n").get()
        #expect(policy.sequences.timeToCutoffBoundsSeconds == [3600, 86400])
        #expect(policy.sequences.gapBoundsSeconds == Sequences().gapBoundsSeconds)
    }

    @Test func scientificNotationAndIntegersAreNumbers() throws {
        let policy = try PolicyLoader.parse(yaml: "budget:\n  delta: 1e-7\n  total_epsilon: 8\n").get()
        #expect(policy.budget.delta == 1e-7)
        #expect(policy.budget.totalEpsilon == 8)
    }
}

@Suite struct PrivacyAccountantPolicyTests {
    @Test func accountantIsPLDByDefaultAndCanBeRDP() throws {
        #expect(Policy().privacy.accountant == .pld)
        #expect(try PolicyLoader.parse(yaml: "privacy:\n  accountant: rdp\n").get().privacy.accountant == .rdp)
        #expect(try PolicyLoader.parse(yaml: "privacy:\n  accountant: pld\n").get().privacy.accountant == .pld)
    }

    @Test(arguments: ["privacy:\n  accountant: moments\n", "privacy:\n  accountant: PLD\n", "privacy:\n  accountant: 1\n"])
    func unknownAccountantNamesKeyLineAndChoices(yaml: String) {
        let found = issues(yaml)
        #expect(found.map(\.field) == ["privacy.accountant"])
        #expect(found.map(\.line) == [2])
        #expect(found.first?.rule == "must be one of pld, rdp")
    }

    @Test func unknownPrivacyKeyIsAnError() {
        #expect(issues("privacy:\n  accountnt: rdp\n").map(\.field) == ["privacy.accountnt"])
    }
}
