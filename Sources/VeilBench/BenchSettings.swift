import Foundation

/// The settings VeilBench reads from its environment, parsed once and strictly, before any benchmark
/// runs: a value that is not of the setting's form, or lies outside its range, stops VeilBench (exit
/// 2) with a message naming the variable and its rule — never the value — and so does a variable
/// named like a setting (`VEIL_BENCH_…`, `VEIL_QUALITY_…`, `VEIL_SCALE_…`) that is none, a misspelt
/// name. (They used to be read where they were used, and a value that did not parse ran the default
/// without a word: `VEIL_BENCH_RESERVE_ROUNDS=ten` ran one round, `VEIL_BENCH_BACKENDS=mysql` ran
/// nothing.) Each setting is documented with the benchmark that reads it.
struct BenchSettings: Sendable {
    /// A backend `backends`, `replica_ingest` and `ledger.reserve` can run on.
    enum Backend: String, Sendable, CaseIterable {
        case sqlite, postgres
    }

    /// The settings of the `quality` benchmarks (`QualityBenchmarks`): the synthetic population, and
    /// for tuning, the training's options (nil: the policy's defaults).
    struct Quality: Sendable {
        var users = 50_000
        var days = 120
        var seed: UInt64 = 7
        var runs = 3
        /// 0: logistic regression.
        var hidden = 0
        var epochs: Int? = nil
        var batchSize: Int? = nil
        var clippingNorm: Double? = nil
        var learningRate: Double? = nil
    }

    /// `VEIL_BENCH_EVENTS`: the first import's size in `backends` (the second imports four times as many).
    var events = 1_000_000
    /// `VEIL_BENCH_RESERVE_ROUNDS`: the rounds of `ledger.reserve` through three replicas.
    var reserveRounds = 1
    /// `VEIL_BENCH_BACKENDS`: comma-separated backend names.
    var backends = Set(Backend.allCases)
    /// `VEIL_BENCH_FEATURE_USERS`: synthetic users of the feature benchmarks.
    var featureUsers = 20_000
    /// `VEIL_BENCH_BATCH`: events per transaction of `ingest`'s import (nil: the import's default contract).
    var importBatchSize: Int? = nil
    /// `VEIL_QUALITY_*`.
    var quality = Quality()
    /// `VEIL_SCALE_SIZES`: the event counts `scale` measures.
    var scaleSizes = [1_000_000, 5_000_000, 20_000_000]
    /// `VEIL_SCALE_ORDERS`: the orders `scale` writes its events in.
    var scaleOrders: [ScaleEvents.Order] = [.time, .user]

    /// The settings of this process's environment; a setting that breaks its rule stops the process
    /// here, with exit status 2 (`main` reads this before any benchmark runs).
    static let current: BenchSettings = {
        do {
            return try BenchSettings(environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("VeilBench: \(error)\n".utf8))
            exit(2)
        }
    }()

    /// The prefixes of the settings' names.
    static let prefixes = ["VEIL_BENCH_", "VEIL_QUALITY_", "VEIL_SCALE_"]

    /// The settings `environment` gives: the defaults above where a variable is unset or empty.
    init(environment: [String: String]) throws(BenchSettingError) {
        let read = Reader(environment: environment)
        events = try read.integer("VEIL_BENCH_EVENTS", atLeast: 1) ?? events
        reserveRounds = try read.integer("VEIL_BENCH_RESERVE_ROUNDS", atLeast: 1) ?? reserveRounds
        backends = try read.list("VEIL_BENCH_BACKENDS", of: Backend.self).map(Set.init) ?? backends
        featureUsers = try read.integer("VEIL_BENCH_FEATURE_USERS", atLeast: 1) ?? featureUsers
        importBatchSize = try read.integer("VEIL_BENCH_BATCH", atLeast: 1)
        quality.users = try read.integer("VEIL_QUALITY_USERS", atLeast: 1) ?? quality.users
        quality.days = try read.integer("VEIL_QUALITY_DAYS", atLeast: 1) ?? quality.days
        quality.seed = try read.value("VEIL_QUALITY_SEED", rule: "an unsigned 64-bit integer", UInt64.init) ?? quality.seed
        quality.runs = try read.integer("VEIL_QUALITY_RUNS", atLeast: 1) ?? quality.runs
        quality.hidden = try read.integer("VEIL_QUALITY_HIDDEN", atLeast: 0) ?? quality.hidden
        quality.epochs = try read.integer("VEIL_QUALITY_EPOCHS", atLeast: 1)
        quality.batchSize = try read.integer("VEIL_QUALITY_BATCH", atLeast: 1)
        quality.clippingNorm = try read.positive("VEIL_QUALITY_CLIP")
        quality.learningRate = try read.positive("VEIL_QUALITY_LR")
        scaleSizes =
            try read.list("VEIL_SCALE_SIZES", rule: "whole numbers of at least 1") { Int($0).flatMap { $0 >= 1 ? $0 : nil } }
            ?? scaleSizes
        scaleOrders = try read.list("VEIL_SCALE_ORDERS", of: ScaleEvents.Order.self) ?? scaleOrders
        let names = read.names
        let unknown = environment.keys.filter { key in Self.prefixes.contains { key.hasPrefix($0) } && !names.contains(key) }
        if let name = unknown.min() {
            throw BenchSettingError(variable: name, rule: "one of VeilBench's settings: \(names.sorted().joined(separator: ", "))")
        }
    }

    /// Parses one variable at a time; an unset or empty variable is nil (the default). Remembers the
    /// names it was asked for: the settings.
    private final class Reader {
        let environment: [String: String]
        private(set) var names: Set<String> = []

        init(environment: [String: String]) { self.environment = environment }

        func value<T>(_ name: String, rule: String, _ parse: (String) -> T?) throws(BenchSettingError) -> T? {
            names.insert(name)
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = parse(text) else { throw BenchSettingError(variable: name, rule: rule) }
            return value
        }

        func integer(_ name: String, atLeast minimum: Int) throws(BenchSettingError) -> Int? {
            try value(name, rule: "a whole number of at least \(minimum)") { Int($0).flatMap { $0 >= minimum ? $0 : nil } }
        }

        func positive(_ name: String) throws(BenchSettingError) -> Double? {
            try value(name, rule: "a finite number above 0") { Double($0).flatMap { $0.isFinite && $0 > 0 ? $0 : nil } }
        }

        /// A comma-separated list, at least one element, each parsed by `parse`.
        func list<T>(_ name: String, rule: String, _ parse: (Substring) -> T?) throws(BenchSettingError) -> [T]? {
            try value(name, rule: "a comma-separated list of \(rule)") { text in
                let elements = text.split(separator: ",", omittingEmptySubsequences: false).map(parse)
                return elements.contains { $0 == nil } ? nil : elements.compactMap { $0 }
            }
        }

        /// A comma-separated list of names of `T`'s cases.
        func list<T: RawRepresentable & CaseIterable>(_ name: String, of type: T.Type) throws(BenchSettingError) -> [T]?
        where T.RawValue == String {
            let names = T.allCases.map(\.rawValue).joined(separator: ", ")
            return try list(name, rule: "names out of: \(names)") { T(rawValue: String($0)) }
        }
    }
}

/// A VeilBench setting that breaks its rule: the variable and the rule, never the value.
struct BenchSettingError: Error, CustomStringConvertible {
    let variable: String
    let rule: String

    var description: String { "\(variable) must be \(rule)" }
}
