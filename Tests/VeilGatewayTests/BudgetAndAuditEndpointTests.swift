import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VeilAudit
import VeilCore
@testable import VeilGateway

@Suite struct BudgetEndpointTests {
    @Test(arguments: [Role.analyst, .auditor, .admin])
    func budgetIsTheSameJSONAsTheCLI(role: Role) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 20))
        let answer = try await gateway.context.queryService().run(
            .init(metric: "count_events", epsilon: 0.5), principal: "test-analyst", role: .analyst)
        #expect(answer.budget.spendID > 0)
        #expect(try await gateway.context.budget.status().spends.count == 1)
        let expected = try await gateway.budgetStatusJSON()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/budget", method: .get, headers: gateway.headers(role)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let body = object(response.body)
                #expect(body["total_epsilon"] as? Double == 10)
                #expect((body["principals"] as? [[String: Any]])?.first?["principal"] as? String == "test-analyst")
                #expect((body["spends"] as? [Any])?.count == 1)
                #expect(String(buffer: response.body) == expected)
            }
        }
    }
}

@Suite struct AuditEndpointTests {
    /// The chain from the store, in the log format: the bytes `audit.log` holds once it has caught up.
    @Test func auditorGetsTheChainAsTheMirrorHoldsItAndItVerifies() async throws {
        let gateway = try await TestGateway.make()
        await gateway.context.mirror.drain()
        let path = gateway.context.mirror.path
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/audit", method: .get, headers: gateway.headers(.auditor)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/x-ndjson")
                let file = try #require(FileManager.default.contents(atPath: path))
                #expect(Data(String(buffer: response.body).utf8) == file)
                let lines = AuditVerifier.lines(of: Array(response.body.readableBytesView))
                #expect(lines.count == Role.allCases.count + 2)  // key.init, policy.load, one token.issue per role
                let result = AuditVerifier.verify(
                    lines: lines, publicKey: gateway.context.keys.auditSigningKey.publicKey, checkpoint: nil)
                #expect(result.failure == nil)
                #expect(result.recordsChecked == lines.count)
            }
        }
    }

    @Test func sinceReturnsTheSuffixAfterThatSeq() async throws {
        let gateway = try await TestGateway.make()
        let chain = try await gateway.context.auditExport().bytes()
        let lines = String(decoding: chain, as: UTF8.self).split(separator: "\n").map { $0 + "\n" }
        try await gateway.application().test(.router) { client in
            for (since, expected) in [(0, lines), (2, Array(lines.dropFirst(2))), (lines.count, []), (999, [])] {
                try await client.execute(uri: "/v1/audit?since=\(since)", method: .get, headers: gateway.headers(.auditor)) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == expected.joined())
                }
            }
        }
    }

    @Test(arguments: ["abc", "-1", "1.5", ""])
    func badSinceIs400NamingIt(since: String) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/audit?since=\(since)", method: .get, headers: gateway.headers(.auditor)) { response in
                #expect(response.status == .badRequest)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"invalid_input","message":"since: must be a record seq, an integer ≥ 0"}"#)
            }
        }
    }
}
