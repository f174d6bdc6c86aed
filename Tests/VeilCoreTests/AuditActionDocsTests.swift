import Foundation
import Testing
import VeilCore

/// `docs/audit.md` documents every action the log holds: its table of actions, `AuditAction.all` and
/// the constants declared in `AuditAction.swift` are one list.
@Suite struct AuditActionDocsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The action names in the first column of the table under "The names and details in use:", in order.
    static func documentedActions() throws -> [String] {
        let text = try String(contentsOf: repository.appendingPathComponent("docs/audit.md"), encoding: .utf8)
        let start = try #require(text.range(of: "The names and details in use:"))
        var names: [String] = []
        for line in text[start.upperBound...].split(separator: "\n").drop(while: { !$0.hasPrefix("|") }) {
            guard line.hasPrefix("|") else { break }
            let cell = line.split(separator: "|", omittingEmptySubsequences: false)[1]
            names += cell.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        return names.filter { AuditAction(rawValue: $0) != nil }
    }

    @Test func theDocsListEveryActionAndNothingElse() throws {
        #expect(try Self.documentedActions() == AuditAction.all.map(\.rawValue))
    }

    @Test func everyDeclaredActionIsInTheList() throws {
        let source = try String(
            contentsOf: Self.repository.appendingPathComponent("Sources/VeilCore/AuditAction.swift"), encoding: .utf8)
        let declared = source.components(separatedBy: "= AuditAction(\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(declared.count == AuditAction.all.count)
        #expect(Set(declared) == Set(AuditAction.all.map(\.rawValue)))
    }
}
