import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

/// What the web console reads: its files with their security headers, `GET /v1/session`, the budget
/// chart, a model's card fragment, the audit status and the list of training runs — over real services.
@Suite struct ConsoleEndpointTests {
    static let hostileNote = "<script>alert(1)</script>"

    @Test func consoleFilesCarryAPolicyWithoutUnsafeInlineAndNeedNoToken() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            for (path, type) in [
                ("/console", "text/html"), ("/console/console.js", "text/javascript"), ("/console/console.css", "text/css"),
                ("/console/favicon.svg", "image/svg+xml"),
            ] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                    let policy = try #require(response.headers[.contentSecurityPolicy])
                    #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
                    #expect(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"))
                    #expect(response.headers[.xContentTypeOptions] == "nosniff")
                }
            }
            try await client.execute(uri: "/console", method: .get) { response in
                let page = String(buffer: response.body)
                // No inline script or style: everything comes from the two files.
                #expect(!page.contains("<style") && !page.contains("style=") && !page.contains("<script>"))
                #expect(page.contains(#"<script src="/console/console.js" defer></script>"#))
            }
        }
    }

    @Test(arguments: Role.allCases)
    func sessionNamesTheTokenItsRoleAndTheAreasTheRouterAllows(role: Role) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            let areas = try await client.execute(uri: "/v1/session", method: .get, headers: gateway.headers(role)) { response in
                #expect(response.status == .ok)
                let session = object(response.body)
                #expect(session["name"] as? String == "test-\(role)")
                #expect(session["role"] as? String == role.rawValue)
                return try #require(session["areas"] as? [String])
            }
            // Every area the session lists answers this token; budget, audit and models are checked by request.
            for (area, path) in [("budget", "/v1/budget"), ("audit", "/v1/audit"), ("models", "/v1/models")] {
                try await client.execute(uri: path, method: .get, headers: gateway.headers(role)) { response in
                    #expect((response.status == .ok) == areas.contains(area), "\(role) \(path)")
                }
            }
            try await client.execute(uri: "/v1/session", method: .get) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func budgetChartHasAPointPerSpendTitledWithItsPurpose() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 40))
        try await gateway.application().test(.router) { client in
            for epsilon in [0.25, 0.5] {
                try await client.execute(
                    uri: "/v1/queries", method: .post, headers: gateway.headers(.analyst),
                    body: json(#"{"metric":"count_users","epsilon":\#(epsilon)}"#)
                ) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/v1/budget/chart.svg", method: .get, headers: gateway.headers(.auditor)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/svg+xml")
                let svg = String(buffer: response.body)
                #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
                #expect(svg.components(separatedBy: "<circle").count - 1 == 2)
                #expect(svg.contains("#1 query count_users"))
                #expect(svg.contains("cap ε = "))
            }
            // By principal: the analyst's line, a point per spend titled with their own composed ε.
            try await client.execute(uri: "/v1/budget/principals.svg", method: .get, headers: gateway.headers(.reviewer)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/svg+xml")
                let svg = String(buffer: response.body)
                #expect(svg.contains("Cumulative ε by principal") && svg.contains(">test-analyst (analyst)</text>"))
                #expect(svg.components(separatedBy: "<circle").count - 1 == 2)
                #expect(svg.contains("test-analyst&#39;s cumulative ε 0.25</title>") && svg.contains("test-analyst&#39;s cumulative ε 0.75</title>"))
            }
            for path in ["/v1/budget/chart.svg", "/v1/budget/principals.svg"] {
                try await client.execute(uri: path, method: .get, headers: gateway.headers(.ingest)) {
                    #expect($0.status == .forbidden, "\(path)")
                }
            }
        }
    }

    @Test func cardFragmentPlotsTheCurvesAndShowsAHostileNoteAsText() async throws {
        var policy = Policy()
        policy.training.exactHoldoutMetrics = true  // the plots are drawn from the exact holdout curves
        let gateway = try await TestGateway.make(policy: policy)
        try await gateway.ingest(ShopperEvents.ndjson(users: 120))
        try await gateway.application().test(.router) { client in
            let modelID = try await trainedModelID(client, gateway)
            try await client.execute(uri: "/v1/training-runs", method: .get, headers: gateway.headers(.trainer)) { response in
                #expect(response.status == .ok)
                let runs = try #require(object(response.body)["runs"] as? [[String: Any]])
                #expect(runs.count == 1)
                #expect(runs.first?["status"] as? String == "succeeded")
                #expect(runs.first?["model_id"] as? String == modelID)
                #expect(runs.first?["card"] == nil)
            }
            try await client.execute(
                uri: "/v1/models/\(modelID)/approve", method: .post, headers: gateway.headers(.reviewer),
                body: try await approvalBody(Self.hostileNote, for: modelID, client, gateway)
            ) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/models/\(modelID)/card.html", method: .get, headers: gateway.headers(.reviewer)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let html = String(buffer: response.body)
                #expect(html.hasPrefix("<article class=\"report model-card\" data-model-id=\"\(modelID)\">"))
                #expect(!html.contains("<script"))
                #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
                // The private plots from the noisy counts, then — the policy lets a reviewer see them — the
                // exact curves the card stores, labelled not for release.
                #expect(html.components(separatedBy: "<svg ").count - 1 == 6)
                #expect(html.contains("<section class=\"plots exact-plots\">") && html.contains("exact holdout, NOT FOR RELEASE"))
                #expect(html.contains("Exact holdout metrics") && html.contains(">baseline "), "the policy lets a reviewer see the exact metrics")
                #expect(!html.contains("<tr><th scope=\"row\">holdout users</th><td>—</td></tr>"))
                #expect(html.contains("approved"))
            }
            try await client.execute(uri: "/v1/models/\(modelID)/card.html", method: .get, headers: gateway.headers(.ingest)) {
                #expect($0.status == .forbidden)
            }
        }
    }

    /// The fragment is the card `GET /v1/models/{id}` shows the same role (`ModelCard.shown`): under the
    /// default policy no role gets the exact holdout metrics, their curves or the train/holdout counts —
    /// and every role still sees the three plots, drawn from the noisy holdout histogram.
    @Test func cardFragmentLeavesOutTheExactMetricsWhereThePolicyDoesNot() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 120))
        try await gateway.application().test(.router) { client in
            let modelID = try await trainedModelID(client, gateway)
            let stored = try await client.execute(uri: "/v1/models/\(modelID)", method: .get, headers: gateway.headers(.admin)) {
                try #require(object($0.body)["card"] as? [String: Any])
            }
            #expect(stored["metrics"] == nil, "the default policy shows no role the exact metrics")
            for role in [Role.analyst, .reviewer, .auditor] {
                try await client.execute(uri: "/v1/models/\(modelID)/card.html", method: .get, headers: gateway.headers(role)) { response in
                    #expect(response.status == .ok)
                    let html = String(buffer: response.body)
                    #expect(html.hasPrefix("<article class=\"report model-card\""))
                    for exact in ["Exact holdout metrics", "exact-plots", "exact holdout, NOT FOR RELEASE", ">baseline "] {
                        #expect(!html.contains(exact), "\(role) sees \(exact)")
                    }
                    let plots = try #require(html.components(separatedBy: "<section class=\"plots private-plots\">").dropFirst().first)
                        .components(separatedBy: "</section>")[0]
                    #expect(plots.components(separatedBy: "<svg ").count - 1 == 3, "\(role)")
                    for title in ["<title>ROC — AUC ", "<title>Precision–recall — AP ", "<title>Calibration (10 bins) — ECE "] {
                        #expect(plots.contains(title), "\(role): no \(title)")
                    }
                    #expect(plots.components(separatedBy: "— differentially private (from noisy counts)</title>").count - 1 == 3)
                    #expect(html.contains("Private holdout metrics"))
                    for count in ["train users", "holdout users"] {
                        #expect(html.contains("<tr><th scope=\"row\">\(count)</th><td>—</td></tr>"), "\(role) sees \(count)")
                    }
                }
            }
        }
    }

    @Test func auditStatusIsTheServersVerificationWithTheKeyAndTheCommands() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/audit/status", method: .get, headers: gateway.headers(.auditor)) { response in
                #expect(response.status == .ok)
                let status = object(response.body)
                let verification = try #require(status["verification"] as? [String: Any])
                #expect(verification["valid"] as? Bool == true)
                let head = try await gateway.context.stores.audit.head()
                #expect((verification["head_seq"] as? NSNumber)?.uint64Value == head.seq)
                #expect(head.seq > 0)
                #expect(status["public_key"] as? String == Data(gateway.context.keys.auditSigningKey.publicKey.bytes).base64EncodedString())
                let commands = try #require(status["commands"] as? [String])
                #expect(commands.contains { $0.hasPrefix("veil audit verify --file audit.ndjson --public-key audit.pub") })
                #expect(commands.contains { $0.hasPrefix("python3 scripts/verify_audit.py audit.ndjson audit.pub") })
                #expect(status["last_checkpoint"] == nil && (status["checkpoint"] as? String)?.hasPrefix("no checkpoint was signed") == true)
            }
            // Once `veil audit checkpoint` has signed one, the status shows it beside the head and checks the chain against it.
            let checkpoint = try await gateway.context.auditService().checkpoint(signingKey: gateway.context.keys.auditSigningKey)
            _ = try await gateway.context.stores.audit.record(actor: "test", action: .policyLoad, details: [:])
            try await client.execute(uri: "/v1/audit/status", method: .get, headers: gateway.headers(.auditor)) { response in
                let status = object(response.body)
                let kept = try #require(status["last_checkpoint"] as? [String: Any])
                #expect((kept["seq"] as? NSNumber)?.uint64Value == checkpoint.seq && kept["hash"] as? String == checkpoint.hash)
                #expect(kept["time"] as? String == checkpoint.time && kept["sig"] == nil)
                let verification = try #require(status["verification"] as? [String: Any])
                #expect(verification["valid"] as? Bool == true)
                #expect((verification["checkpoint_seq"] as? NSNumber)?.uint64Value == checkpoint.seq)
                #expect((verification["head_seq"] as? NSNumber)?.uint64Value == checkpoint.seq + 1)
            }
            try await client.execute(uri: "/v1/audit/status", method: .get, headers: gateway.headers(.analyst)) {
                #expect($0.status == .forbidden)
            }
        }
    }
}
