import Foundation
import Testing
import VeilTestSupport

/// The web console in a real browser: headless Chromium driven by Selenium
/// (`scripts/console_browser_check.py`) against a live `veil serve` holding generated shoppers, two
/// trained models (one rejected with the note `<script>alert(1)</script>`) and a query's spend.
/// A reviewer approves a model in the browser and revokes it, and the API then says it was approved
/// and revoked by that reviewer, with the notes typed in the browser. The policy is the shipped one, so
/// no role sees the exact holdout metrics over HTTP: the card's ROC, precision–recall and calibration
/// plots the browser sees are drawn from the noisy holdout histogram (differentially private).
///
/// `veil report model|budget` write the same card and budget as offline HTML (the operator's card,
/// so with the exact plots too, labelled not for release).
@Suite(.serialized) struct ConsoleBrowserTests {
    typealias Installation = VeilInstallation
    static let hostileNote = "<script>alert(1)</script>"

    /// Shoppers, two seeded models and one query under the shipped policy: what the console and the reports show.
    static func installationWithModels() throws -> (Installation, approve: String, hostile: String) {
        let installation = try Installation()
        let data = installation.root.appendingPathComponent("shoppers.ndjson")
        let generated = try installation.run(["generate", "--users", "200", "--days", "60", "--seed", "3", "--out", data.path])
        try #require(generated.status == 0, "\(generated.stderr)")
        let imported = try installation.run(["ingest", data.path])
        try #require(imported.status == 0, "\(imported.stderr)")
        var ids: [String] = []
        for seed in ["1", "2"] {
            let card = try #require(
                try installation.json(["train", "--task", "purchase", "--epsilon", "1", "--epochs", "1", "--batch-size", "32", "--seed", seed]) as? [String: Any])
            ids.append(try #require(card["model_id"] as? String))
        }
        let rejected = try installation.run(["models", "reject", ids[1], "--note", Self.hostileNote])
        try #require(rejected.status == 0, "\(rejected.stderr)")
        let query = try installation.run(["query", "--metric", "count_users", "--epsilon", "0.5"])
        try #require(query.status == 0, "\(query.stderr)")
        return (installation, ids[0], ids[1])
    }

    @Test func aReviewerApprovesAndRevokesInTheBrowserAndAnIngestTokenSeesNothing() throws {
        let probe = try runPython(["-c", "import selenium"])
        try #require(probe.status == 0, "Selenium is needed: run scripts/install-deps.sh (python3 -m pip install selenium)")
        try #require(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver"),
            "Debian's chromium and chromium-driver are needed: run scripts/install-deps.sh")
        let (installation, approve, hostile) = try Self.installationWithModels()
        let tokens = [
            "VEIL_REVIEWER_TOKEN": try installation.token("reviewer"), "VEIL_AUDITOR_TOKEN": try installation.token("auditor"),
            "VEIL_INGEST_TOKEN": try installation.token("ingest"),
        ]
        let server = try installation.serve(log: "serve.log")
        defer { _ = server.stop() }
        let screenshots = installation.root.appendingPathComponent("screenshots")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/console_browser_check.py")
        let started = ContinuousClock.now
        let result = try runPython(
            [script.path, "--url", server.baseURL, "--approve", approve, "--hostile", hostile, "--out", screenshots.path],
            environment: tokens)
        print("console in Chromium (\(String(format: "%.0f", (ContinuousClock.now - started) / .seconds(1))) s), screenshots in \(screenshots.path)")
        let report = result.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(result.status == 0, "the browser check failed:\n\(result.output.suffix(4_000))")
        let outcome = (try? JSONSerialization.jsonObject(with: Data(report.utf8))) as? [String: Any] ?? [:]
        #expect(outcome["ok"] as? Bool == true)
        #expect((outcome["console_errors"] as? [String])?.isEmpty == true, "JavaScript console errors: \(outcome["console_errors"] ?? "?")")
        #expect((outcome["screenshots"] as? [String])?.count ?? 0 >= 7)

        // The approval and the revocation made in the browser are the registry's state, by the reviewer's token name.
        let reviewerName = try #require(
            (try? JSONSerialization.jsonObject(
                with: Data(try CurlClient.send("GET", server.baseURL + "/v1/session", token: tokens["VEIL_REVIEWER_TOKEN"]).body.utf8)))
                as? [String: Any])["name"] as? String
        let shown = try CurlClient.send("GET", server.baseURL + "/v1/models/\(approve)", token: tokens["VEIL_AUDITOR_TOKEN"])
        let record = ((try? JSONSerialization.jsonObject(with: Data(shown.body.utf8))) as? [String: Any])?["record"] as? [String: Any]
        #expect(record?["state"] as? String == "revoked")
        #expect(record?["reviewer"] as? String == reviewerName)
        #expect(record?["review_note"] as? String == "card, plots and baselines checked in the console")
        #expect(record?["revoked_by"] as? String == reviewerName)
        #expect(record?["revoke_note"] as? String == "revoked in the console check")
        // No token reached the server's log (the console sends it only as a header).
        for token in tokens.values { #expect(!server.stderr.contains(token)) }
        #expect(server.process.isRunning, "veil serve died: \(server.stderr.suffix(500))")
    }

    @Test func offlineReportsAreSelfContainedHTML() throws {
        let (installation, approve, hostile) = try Self.installationWithModels()
        let card = installation.root.appendingPathComponent("card.html")
        let written = try installation.run(["report", "model", approve, "--out", card.path])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(written.stdout.hasPrefix("wrote \(card.path)"))
        let html = try String(contentsOf: card, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains(approve))
        // The three private plots, and no exact ones: the shipped policy keeps no exact holdout metric in
        // the model file (training.exact_holdout_metrics: false), so not even the operator's card has them.
        let privatePlots = try #require(html.components(separatedBy: "<section class=\"plots private-plots\">").last)
            .components(separatedBy: "</section>")[0]
        #expect(privatePlots.components(separatedBy: "<svg ").count - 1 == 3)
        #expect(privatePlots.components(separatedBy: "differentially private (from noisy counts)</text>").count - 1 == 3)
        #expect(html.components(separatedBy: "<svg ").count - 1 == 3)
        #expect(!html.contains("exact holdout, NOT FOR RELEASE"))
        // Self-contained: no script, no external file.
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href=") && !html.contains("<link"))

        // A unique prefix names the model, as in `veil models show`.
        let hostileCard = installation.root.appendingPathComponent("hostile.html")
        let byPrefix = try installation.run(["report", "model", String(hostile.prefix(8)), "--out", hostileCard.path])
        #expect(byPrefix.status == 0, "\(byPrefix.stderr)")
        let hostileHTML = try String(contentsOf: hostileCard, encoding: .utf8)
        #expect(hostileHTML.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !hostileHTML.contains("<script"))

        let budget = installation.root.appendingPathComponent("budget.html")
        let reported = try installation.json(["report", "budget", "--out", budget.path]) as? [String: Any]
        #expect(reported?["path"] as? String == budget.path)
        let budgetHTML = try String(contentsOf: budget, encoding: .utf8)
        // Two training spends and one query, each a point on both charts (the dataset's, by principal) and a row in the table.
        #expect(budgetHTML.components(separatedBy: "<circle").count - 1 == 6)
        #expect(budgetHTML.contains("query count_users"))
        #expect((reported?["bytes"] as? Int) == budgetHTML.utf8.count)

        let missing = try installation.run(["report", "model", String(repeating: "0", count: 32), "--out", card.path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no model"))
    }
}
