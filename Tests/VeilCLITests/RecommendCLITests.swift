import Foundation
import Testing

/// A sequence model end to end through the real binary: `veil train --task next_item --model gru` on
/// generated shoppers with a public catalogue, `veil models approve`, then recommendations by `veil
/// recommend`, `veil score --task next_item` and `POST /v1/recommendations` — and no raw user ID in
/// anything written or printed.
@Suite(.serialized) struct RecommendCLITests {
    typealias Installation = VeilInstallation

    /// The policy: a catalogue next to it, small batches for 200 users (for next_item too: no task defaults).
    static let policy = """
        dataset: recommend-test
        budget:
          total_epsilon: 10
          max_epsilon_per_request: 4
        training:
          exact_holdout_metrics: true
          default_epochs: 2
          default_batch_size: 32
          task_defaults: {}
        sequences:
          length: 20
        catalog:
          items_file: catalog.csv
        """

    /// An installation holding 200 generated shoppers, and a catalogue of their 60 most frequent items
    /// (the test's public list: small, so a debug build trains in seconds).
    static func installation() throws -> (Installation, catalogue: Set<String>) {
        let installation = try Installation(policy: policy)
        let generated = try installation.run([
            "generate", "--users", "200", "--days", "60", "--seed", "7", "--start", "2026-01-01", "--out", "events.ndjson",
        ])
        try #require(generated.status == 0, "\(generated.stderr)")
        let events = try String(contentsOf: installation.root.appendingPathComponent("events.ndjson"), encoding: .utf8)
        var counts: [String: Int] = [:]
        for line in events.split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let item = object["item_id"] as? String
            else { continue }
            counts[item, default: 0] += 1
        }
        let top = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(60).map(\.key)
        _ = try installation.file("catalog.csv", Data((["item_id"] + top).joined(separator: "\n").utf8))
        let ingested = try installation.run(["ingest", "events.ndjson"])
        try #require(ingested.status == 0, "\(ingested.stderr)")
        return (installation, Set(top))
    }

    @Test func trainApproveRecommendAndScoreThroughTheBinary() throws {
        let (installation, catalogue) = try Self.installation()
        var outputs: [VeilProcess.Result] = []

        // Train: a GRU over the last 20 events, the catalogue as vocabulary, ranking metrics on the card.
        let trained = try installation.run([
            "train", "--task", "next_item", "--model", "gru", "--hidden", "16", "--embedding", "8", "--sequence-length", "20",
            "--epsilon", "3", "--seed", "5", "--json",
        ])
        outputs.append(trained)
        try #require(trained.status == 0, "\(trained.stderr)")
        let card = try #require(try JSONSerialization.jsonObject(with: Data(trained.stdout.utf8)) as? [String: Any])
        #expect(card["task"] as? String == "next_item")
        #expect((card["model"] as? [String: Any])?["kind"] as? String == "gru_sequence")
        let sequence = try #require(card["sequence"] as? [String: Any])
        let vocabulary = try #require(sequence["vocabulary"] as? [String: Any])
        #expect(vocabulary["source"] as? String == "catalog" && vocabulary["items"] as? Int == 60)
        #expect(sequence["length"] as? Int == 20 && sequence["embedding_width"] as? Int == 8)
        let ranking = try #require((card["metrics"] as? [String: Any])?["ranking"] as? [String: Any])
        #expect(ranking["k"] as? Int == 10 && (ranking["users"] as? Int ?? 0) > 0)
        let baselines = try #require(card["baselines"] as? [String: Any])
        #expect(Set(baselines.keys) == ["popularity", "transition", "repeat"])
        let modelID = try #require(card["model_id"] as? String)
        // Only the model's spend: a catalogue costs nothing.
        let budget = try #require(try installation.json(["budget"]) as? [String: Any])
        #expect((budget["spends"] as? [Any])?.count == 1)

        // A candidate does not serve.
        let early = try installation.run(["score", "--task", "next_item", "--out", "early.csv"])
        #expect(early.status != 0)
        // A second principal approves (the trainer may not); an override only where the quality gate fails.
        let override = try installation.passesQualityGate(modelID) ? [] : ["--override-quality", "test model: quality is not the point"]
        let approved = try installation.run(["models", "approve", modelID, "--note", "ranking metrics checked", "--as", "rev-1"] + override)
        outputs.append(approved)
        #expect(approved.status == 0, "\(approved.stderr)")

        // Score: k rows per user, rank 1 first, items from the catalogue.
        let scored = try installation.run(["score", "--task", "next_item", "--k", "3", "--out", "recommendations.csv", "--json"])
        outputs.append(scored)
        try #require(scored.status == 0, "\(scored.stderr)")
        let csv = try String(contentsOf: installation.root.appendingPathComponent("recommendations.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n")
        #expect(lines.first == "pseudonym,rank,item,score")
        let rows = lines.dropFirst().map { $0.split(separator: ",").map(String.init) }
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as? [String: Any])
        #expect(rows.count == 3 * (summary["scored"] as? Int ?? -1) && rows.count > 0)
        #expect(rows.allSatisfy { $0.count == 4 && $0[0].count == 32 && catalogue.contains($0[2]) })
        #expect(rows.enumerated().allSatisfy { Int($1[1]) == $0 % 3 + 1 })
        let pseudonym = rows[0][0]

        // One user by pseudonym, then by raw ID on stdin (never argv): the same list.
        let byPseudonym = try installation.run(["recommend", "--pseudonym", pseudonym, "--k", "5", "--json"])
        outputs.append(byPseudonym)
        try #require(byPseudonym.status == 0, "\(byPseudonym.stderr)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(byPseudonym.stdout.utf8)) as? [String: Any])
        let items = try #require(list["items"] as? [[String: Any]])
        #expect(items.count == 5 && items.compactMap { $0["item"] as? String }.allSatisfy(catalogue.contains))
        #expect(Array(items.compactMap { $0["item"] as? String }.prefix(3)) == rows.prefix(3).map { $0[2] })
        #expect(list["model_id"] as? String == modelID && list["pseudonym"] as? String == pseudonym)
        let unseen = try installation.run(["recommend", "--pseudonym", pseudonym, "--k", "5", "--exclude-seen", "--json"])
        #expect(unseen.status == 0, "\(unseen.stderr)")

        let environment = installation.environment.merging(["VEIL": VeilProcess.executable.path]) { _, new in new }
        func recommend(user: String) throws -> VeilProcess.Result {
            try VeilProcess.runProgram(
                "/bin/sh", ["-c", #"printf '%s\n' "$RAW" | "$VEIL" recommend --user --k 2 --json"#], in: installation.root,
                environment: environment.merging(["RAW": user]) { _, new in new })
        }
        let byUser = try recommend(user: "user-000000")
        outputs.append(byUser)
        #expect(byUser.status == 0, "\(byUser.stderr)")
        #expect(byUser.stdout.contains("\"pseudonym\""))
        // user-000001 has no events: refused, naming the pseudonym only.
        let idle = try recommend(user: "user-000001")
        outputs.append(idle)
        #expect(idle.status != 0 && idle.stderr.contains("has no event in the model's observation window"), "\(idle.stderr)")

        // HTTP: a batch where one subject has no events gets a failure entry, not a failed batch.
        let server = try installation.serve(log: "serve.log")
        defer { _ = server.stop() }
        let token = try installation.token("analyst")
        let nobody = String(repeating: "0", count: 32)
        let body = #"{"subjects": [{"pseudonym": "\#(pseudonym)"}, {"pseudonym": "\#(nobody)"}, {"user_id": "user-000002"}], "k": 4}"#
        let answer = try CurlClient.send(
            "POST", server.baseURL + "/v1/recommendations", token: token, contentType: "application/json", body: Data(body.utf8))
        #expect(answer.status == 200, "\(answer.body)")
        let entries = try #require(
            (try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["recommendations"] as? [[String: Any]])
        #expect(entries.count == 3)
        #expect((entries[0]["items"] as? [[String: Any]])?.map { $0["item"] as? String } == items.prefix(4).map { $0["item"] as? String })
        #expect(entries[1]["items"] == nil && entries[1]["error"] as? String == "not_found" && entries[1]["index"] as? Int == 1)
        #expect(!answer.body.contains("user-000002"))
        // Two lists served (the subject without events is not counted).
        let metrics = try CurlClient.send("GET", server.baseURL + "/metrics")
        #expect(metrics.body.contains("veil_recommendations_total 2"), "\(metrics.body)")
        let unknown = try CurlClient.send(
            "POST", server.baseURL + "/v1/recommendations", token: token, contentType: "application/json",
            body: Data(#"{"pseudonym": "\#(pseudonym)", "top": 3}"#.utf8))
        #expect(unknown.status == 422, "\(unknown.body)")
        let ingestToken = try installation.token("ingest")
        let forbidden = try CurlClient.send(
            "POST", server.baseURL + "/v1/recommendations", token: ingestToken, contentType: "application/json",
            body: Data(#"{"pseudonym": "\#(pseudonym)"}"#.utf8))
        #expect(forbidden.status == 403)
        _ = server.stop()

        var scanned = outputs
        scanned.append(VeilProcess.Result(status: 0, stdout: csv, stderr: server.stderr))
        MappedImportCLITests.expectNoRawIDs(["user-0"], outputs: scanned, in: installation)
    }

    /// Without a catalogue a sequence model's vocabulary comes from DP partition selection, paid inside
    /// the run's one spend (steps, evaluation and selection composed). Too few users per item for the ε
    /// asked here, so nothing is released — and the run is refused, having spent what it reserved.
    @Test func withoutACatalogueTheVocabularyIsSelectedAndPaidFor() throws {
        let installation = try Installation(policy: "dataset: selection-test\ntraining:\n  default_batch_size: 32\n  task_defaults: {}\n")
        let generated = try installation.run([
            "generate", "--users", "60", "--days", "40", "--seed", "3", "--start", "2026-01-01", "--out", "events.ndjson",
        ])
        try #require(generated.status == 0, "\(generated.stderr)")
        try #require(try installation.run(["ingest", "events.ndjson"]).status == 0)
        let trained = try installation.run([
            "train", "--task", "purchase", "--model", "cnn", "--hidden", "8", "--embedding", "4", "--epsilon", "2",
            "--vocabulary-epsilon", "0.5", "--seed", "1",
        ])
        #expect(trained.status != 0)
        #expect(trained.stderr.contains("partition selection released no item"), "\(trained.stderr)")
        let budget = try #require(try installation.json(["budget"]) as? [String: Any])
        let purposes = (budget["spends"] as? [[String: Any]])?.compactMap { $0["purpose"] as? String } ?? []
        #expect(purposes == ["train purchase model (cnn) with private evaluation and DP item selection"], "\(purposes)")
    }
}
