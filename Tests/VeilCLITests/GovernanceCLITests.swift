import Foundation
import Testing

/// The reviewer's governance through the real binary: revocation against a running `veil serve`.
@Suite struct GovernanceCLITests {
    /// An installation with 300 generated shoppers' events and one seeded purchase model (a candidate),
    /// and one shopper's user ID (for the raw-ID scans).
    static func trainedInstallation() throws -> (installation: VeilInstallation, modelID: String, userID: String) {
        let installation = try VeilInstallation()
        let events = try installation.run(["generate", "--users", "300", "--days", "60", "--seed", "3"])
        try #require(events.status == 0, "\(events.stderr)")
        let imported = try installation.run(["ingest", try installation.file("events.ndjson", Data(events.stdout.utf8)).path])
        try #require(imported.status == 0, "\(imported.stderr)")
        let card = try installation.json(
            ["train", "--task", "purchase", "--epsilon", "1", "--batch-size", "32", "--epochs", "1", "--seed", "1"])
        let modelID = try #require((card as? [String: Any])?["model_id"] as? String)
        let firstEvent = try JSONSerialization.jsonObject(with: Data(try #require(events.stdout.split(separator: "\n").first).utf8))
        let userID = try #require((firstEvent as? [String: Any])?["user_id"] as? String)
        return (installation, modelID, userID)
    }

    /// Approve, predict over HTTP, `veil models revoke` while the server runs, and the server's very next
    /// prediction is refused naming the revoked model; the chain records `model.revoke` and verifies.
    @Test func revokingStopsARunningServerServingAtOnce() throws {
        let (installation, modelID, userID) = try Self.trainedInstallation()
        let approved = try installation.run(["models", "approve", modelID, "--note", "card checked"])
        try #require(approved.status == 0, "\(approved.stderr)")
        let analyst = try installation.token("analyst")
        let server = try installation.serve(log: "serve.log")
        defer { server.stop() }
        let predict = {
            try CurlClient.send(
                "POST", server.baseURL + "/v1/predict", token: analyst, contentType: "application/json",
                body: Data(#"{"task":"purchase","user_id":"\#(userID)"}"#.utf8))
        }
        let before = try predict()
        #expect(before.status == 200, "\(before.body)")
        #expect(before.body.contains(#""model_id":"\#(modelID)""#))

        let empty = try installation.run(["models", "revoke", modelID, "--note", "   "])
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("note: is required: 1 to 2000 characters saying why"), "\(empty.stderr)")
        let revoked = try installation.json(["models", "revoke", modelID, "--note", "calibration drifted"]) as? [String: Any]
        #expect(revoked?["state"] as? String == "revoked")
        #expect(revoked?["revoke_note"] as? String == "calibration drifted")

        let after = try predict()
        #expect(after.status == 404, "\(after.body)")
        #expect(after.body.contains("no approved model for task purchase (model \(modelID) was revoked at "), "\(after.body)")
        let again = try installation.run(["models", "revoke", modelID, "--note", "again"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("only an approved model can be revoked"), "\(again.stderr)")
        let shown = try installation.run(["models", "show", modelID])
        #expect(shown.stdout.contains("revoked cli at "), "\(shown.stdout)")
        server.stop()

        let verified = try installation.run(["audit", "verify"])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let log = try String(contentsOf: installation.auditLogFile, encoding: .utf8)
        #expect(log.contains(#"\"action\":\"model.revoke\""#), "no model.revoke record in audit.log")
        for text in [log, server.stderr, after.body] {
            #expect(!text.contains(userID), "a raw user ID was written")
        }
    }
}
