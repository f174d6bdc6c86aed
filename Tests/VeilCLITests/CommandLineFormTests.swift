import Foundation
import Testing
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
}
