import Foundation
import Testing
@testable import VeilQueries
@testable import veil

/// How the command line meets a person: mistyped names get the nearest one, numbers in a column share
/// one format, and a tiny ε is never printed as 0.0000.
@Suite struct CommandLineFormTests {
    @Test func aMistypedCommandOrOptionSuggestsTheNearestName() throws {
        let stat = try VeilProcess.run(["stat"])
        #expect(stat.status != 0)
        #expect(stat.stderr.contains("unknown command 'stat'. Did you mean 'stats'?"), "\(stat.stderr)")
        let approve = try VeilProcess.run(["models", "aprove", "abcd", "--note", "x"])
        #expect(approve.stderr.contains("Did you mean 'approve'?"), "\(approve.stderr)")
        // Options: swift-argument-parser's own suggestion, kept.
        let option = try VeilProcess.run(["budget", "--jsno"])
        #expect(option.status != 0 && option.stderr.contains("Did you mean '--json'?"), "\(option.stderr)")
        // Nothing near: no guess, the parser's own message.
        let far = try VeilProcess.run(["zzzzzzzz"])
        #expect(far.status != 0 && !far.stderr.contains("Did you mean"), "\(far.stderr)")
        #expect(CommandSuggestion.distance("kitten", "sitting") == 3 && CommandSuggestion.distance("", "ab") == 2)
    }

    /// A misspelt `VEIL_KERNELS` stops a command that opens the service layer before it runs (it used to
    /// cap nothing, silently); the error names the variable and the names it may hold, not the value.
    /// A right one gets past the check: in an empty folder, the next thing wrong is the missing policy.
    @Test func aMisspeltKernelCapStopsTheCommandBeforeItRuns() throws {
        let directory = try VeilProcess.scratchDirectory()
        let misspelt = try VeilProcess.run(["budget", "--json"], in: directory, environment: ["VEIL_KERNELS": "wdie"])
        #expect(misspelt.status != 0 && misspelt.stdout.isEmpty, "\(misspelt.stdout)")
        #expect(misspelt.stderr.contains("VEIL_KERNELS") && misspelt.stderr.contains("baseline, wide, avx512"), "\(misspelt.stderr)")
        #expect(!misspelt.stderr.contains("wdie"))
        let capped = try VeilProcess.run(["budget", "--json"], in: directory, environment: ["VEIL_KERNELS": "baseline"])
        #expect(capped.status != 0 && !capped.stderr.contains("VEIL_KERNELS") && capped.stderr.contains("policy"), "\(capped.stderr)")
        let help = try VeilProcess.run(["budget", "--help"], in: directory, environment: ["VEIL_KERNELS": "wdie"])
        #expect(help.status == 0 && help.stdout.contains("USAGE"), "\(help.stderr)")
    }

    /// `VeilBench` reads its settings from the environment before any benchmark runs: a value not of a
    /// setting's form, or outside its range, or a misspelt setting's name, stops it (exit 2) with the
    /// variable and its rule and without the value (such a value or name used to run the default,
    /// silently). Right values get past the check, and a filter that names no benchmark then runs nothing.
    @Test(arguments: [
        ("VEIL_BENCH_RESERVE_ROUNDS", "ten", "a whole number of at least 1"),
        ("VEIL_BENCH_EVENTS", "0", "a whole number of at least 1"),
        ("VEIL_BENCH_BACKENDS", "sqlite,mysql", "names out of: sqlite, postgres"),
        ("VEIL_QUALITY_LR", "-0.5", "a finite number above 0"),
        ("VEIL_QUALITY_SEED", "seven", "an unsigned 64-bit integer"),
        ("VEIL_SCALE_SIZES", "1000000,,5", "whole numbers of at least 1"),
        ("VEIL_SCALE_ORDERS", "time,chronological", "names out of: time, user"),
        ("VEIL_BENCH_EVENT", "200000", "one of VeilBench's settings: VEIL_BENCH_BACKENDS, VEIL_BENCH_BATCH"),
    ])
    func aBenchSettingThatBreaksItsRuleStopsVeilBench(variable: String, value: String, rule: String) throws {
        let bench = VeilProcess.executable.deletingLastPathComponent().appendingPathComponent("VeilBench").path
        let broken = try VeilProcess.runProgram(bench, ["no-such-benchmark"], environment: [variable: value])
        #expect(broken.status == 2 && broken.stdout.isEmpty, "\(broken.stdout)")
        #expect(broken.stderr.contains("\(variable) must be") && broken.stderr.contains(rule), "\(broken.stderr)")
        #expect(!broken.stderr.contains(value), "\(broken.stderr)")
        let right = try VeilProcess.runProgram(
            bench, ["no-such-benchmark"],
            environment: ["VEIL_BENCH_RESERVE_ROUNDS": "3", "VEIL_BENCH_BACKENDS": "postgres", "VEIL_SCALE_ORDERS": "user"])
        #expect(right.status == 0 && right.stdout.isEmpty && right.stderr.isEmpty, "\(right.stderr)")
    }

    @Test func epsilonsOfOneBlockShareOneFormatAndATinyOneIsNotZero() {
        #expect(EpsilonFormat.text(2) == "2.0000")
        #expect(EpsilonFormat.text(0.5) == "0.5000")
        #expect(EpsilonFormat.text(0.00025) == "0.00025")
        #expect(EpsilonFormat.text(0.0001) == "0.000100")
        #expect(EpsilonFormat.text(3e-9) == "0.0000000030")
        #expect(EpsilonFormat.text(0) == "0.0000")
        let column = EpsilonFormat([1, 0.5, 0.0004, 0])
        #expect([1, 0.5, 0.0004, 0].map(column.callAsFunction) == ["1.00000", "0.50000", "0.00040", "0.00000"])
    }

    @Test func aTableAlignsEachColumnAndCountsShareOneFormat() {
        var table = TextTable([("name", .left), ("events", .right)])
        table.append(["a", TextTable.count(1_234_567)])
        table.append(["longer", TextTable.count(7)])
        #expect(table.lines == ["name       events", "a       1,234,567", "longer          7"])
        #expect(TextTable.count(-1_000) == "-1,000" && TextTable.count(999) == "999")
        #expect(TextTable.bytes(512) == "512 B" && TextTable.bytes(1_536) == "1.5 KiB" && TextTable.bytes(3 << 30) == "3.0 GiB")
    }

    @Test func aQueryAnswersNumberColumnsEachShareOneFixedPointFormat() {
        // The values %.4g printed as 1235, 3.5, 0.1235 and 1.2e5 in one column.
        #expect([1234.5, 3.5, 0.12345].map(ColumnNumberFormat([1234.5, 3.5, 0.12345]).callAsFunction) == ["1234.5", "3.5", "0.1"])
        #expect([3.25, 0.125].map(ColumnNumberFormat([3.25, 0.125]).callAsFunction) == ["3.250", "0.125"])
        #expect([120_000, 7].map(ColumnNumberFormat([120_000, 7]).callAsFunction) == ["120000", "7"])
        #expect([0.5, 0.0001].map(ColumnNumberFormat([0.5, 0.0001]).callAsFunction) == ["0.5000", "0.0001"])
        let lines = QueryText.table([
            ("view", .init(value: 123_456.7, noiseSD: 1.5, low: 123_453.8, high: 123_459.6)),
            ("purchase", .init(value: 2.26, noiseSD: 1.5, low: -0.69, high: 5.19)),
            ("return", .init(value: nil, noiseSD: nil, low: 0, high: 0)),
        ])
        #expect(lines == [
            "group        value          95% interval  noise sd",
            "view      123456.7  [123453.8, 123459.6]     1.500",
            "purchase       2.3           [-0.7, 5.2]     1.500",
            "return         n/a            [0.0, 0.0]       n/a",
        ], "\(lines.joined(separator: "\n"))")
    }
}
