import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
import VeilIngest
@testable import VeilGateway

/// `POST /v1/events` over the real ingest pipeline and SQLite store of a `TestGateway`: outcomes are
/// checked in the store and the audit log, and 422 bodies carry the real validator's messages.
@Suite struct EventsEndpointTests {
    @Test func ndjsonBatchIsStoredAndAttributedToTheTokenName() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 3)
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"accepted":3,"duplicates":0}"#)
                #expect(response.headers[.contentType] == "application/json")
            }
        }
        let stored = try await gateway.storedEvents(of: "alice@example.com")
        #expect(stored.map(\.eventID) == ["e-0", "e-1", "e-2"])
        #expect(stored.allSatisfy { $0.pseudonym == gateway.pseudonym("alice@example.com") })
        let record = try await gateway.lastAuditRecord()
        #expect(record["actor"] as? String == "test-ingest")
        #expect(record["action"] as? String == "ingest.batch")
        #expect((record["details"] as? [String: Any])?["accepted"] as? Int == 3)
    }

    /// Free-form properties over HTTP: what the policy lists within its bounds is stored, the rest is
    /// counted in `properties_dropped` and appears nowhere.
    @Test func propertiesTheListedOnesAreStoredAndTheOthersCountedNeverEchoed() async throws {
        var policy = Policy()
        policy.properties = ["basket_lines": PropertyRule(type: .int, min: 1, max: 50)]
        let gateway = try await TestGateway.make(policy: policy)
        let body = """
            {"event_id":"p1","user_id":"alice@example.com","type":"purchase","timestamp":"2026-01-01T00:00:00Z","properties":{"basket_lines":4,"loyalty_card":"LC-998877"}}
            {"event_id":"p2","user_id":"alice@example.com","type":"purchase","timestamp":"2026-01-02T00:00:00Z","properties":{"basket_lines":99}}
            """
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"accepted":2,"duplicates":0,"properties_dropped":2}"#)
            }
        }
        #expect(try await gateway.storedEvents(of: "alice@example.com").map(\.properties) == [["basket_lines": 4], [:]])
        for line in gateway.logs.lines { #expect(!line.contains("LC-998877") && !line.contains("loyalty_card")) }
    }

    @Test func jsonArrayBatchWithCharsetIsStored() async throws {
        let gateway = try await TestGateway.make()
        let body = """
            [{"event_id":"a","user_id":"u1","type":"view","timestamp":"2026-01-01T00:00:00Z"},
             {"event_id":"b","user_id":"u2","type":"purchase","timestamp":"2026-01-02T00:00:00+01:00","price":9.5,"quantity":2}]
            """
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post,
                headers: gateway.headers(.ingest, contentType: "application/json; charset=utf-8"), body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"accepted":2,"duplicates":0}"#)
            }
        }
        #expect(try await gateway.storedEvents(of: "u1").map(\.type) == [.view])
        let purchase = try await gateway.storedEvents(of: "u2")
        #expect(purchase.map(\.timestampMillis) == [1_767_308_400_000])  // 2026-01-01T23:00:00Z
        #expect(purchase.map(\.price) == [9.5])
        #expect(purchase.map(\.quantity) == [2])
    }

    @Test func resentBatchCountsDuplicatesAndStoresThemOnce() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            for expected in [#"{"accepted":3,"duplicates":0}"#, #"{"accepted":0,"duplicates":3}"#] {
                try await client.execute(
                    uri: "/v1/events", method: .post, headers: gateway.headers(.admin, contentType: "application/x-ndjson"),
                    body: ndjson(count: 3)
                ) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == expected)
                }
            }
        }
        #expect(try await gateway.context.events.eventCount() == 3)
    }

    @Test(arguments: [nil, "text/plain", "text/csv", "application/xml"])
    func unknownContentTypeIs415(contentType: String?) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: contentType), body: ndjson(count: 1)
            ) { response in
                #expect(response.status == .unsupportedMediaType)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"unsupported_media_type","message":"Content-Type must be application/x-ndjson (one event per line) or application/json (an array of events)"}"#
                )
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    @Test func bodyPastThePolicyLimitIs413() async throws {
        var policy = Policy()
        policy.ingest.maxBodyBytes = 100
        let gateway = try await TestGateway.make(policy: policy)
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 5)
            ) { response in
                #expect(response.status == .contentTooLarge)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"too_large","message":"the request body is larger than 100 bytes (policy ingest.max_body_bytes); send smaller batches"}"#
                )
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    @Test func batchPastTheEventLimitIs413() async throws {
        var policy = Policy()
        policy.ingest.maxBatchEvents = 2
        let gateway = try await TestGateway.make(policy: policy)
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 3)
            ) { response in
                #expect(response.status == .contentTooLarge)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"too_large","message":"body: holds more than 2 events (policy ingest.max_batch_events); split the batch"}"#
                )
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    @Test func invalidEventsAre422WithEveryProblemAndNothingStored() async throws {
        let gateway = try await TestGateway.make()
        let body = """
            {"event_id":"ok-0","user_id":"u0","type":"view","timestamp":"2026-01-01T00:00:00Z"}
            {"user_id":"u1","type":"view","timestamp":"2026-01-01T00:00:00Z"}
            {"event_id":"ok-2","user_id":"","type":"teleport","timestamp":"2026-01-01 00:00","colour":"red"}
            {"event_id":"ok-3","user_id":"u3","type":"view","timestamp":"2026-01-01T00:00:00Z","price":-1,"rating":5}
            {"event_id":"ok-4","user_id":"u4","type":"view","timestamp":"2999-01-01T00:00:00Z"}

            """
        // The validator's own texts (Sources/VeilIngest/Ingest/EventValidator.swift), in batch order.
        let problems = [
            #"{"field":"event_id","index":1,"message":"is required"}"#,
            #"{"field":"event","index":2,"message":"field #5 is not a known event field; the fields are event_id, user_id, type, timestamp, session_id, item_id, category, price, quantity, rating, query"}"#,
            #"{"field":"user_id","index":2,"message":"must be between 1 and 256 bytes of UTF-8"}"#,
            #"{"field":"type","index":2,"message":"must be one of view, search, click, add_to_cart, remove_from_cart, checkout, purchase, return, review or a GA4 alias (docs/ingest.md)"}"#,
            #"{"field":"timestamp","index":2,"message":"must be an RFC 3339 date-time with a time zone offset or Z (e.g. 2026-11-23T10:15:00Z)"}"#,
            #"{"field":"price","index":3,"message":"must be a number from 0 to 1000000 (policy ingest.max_price)"}"#,
            #"{"field":"rating","index":3,"message":"is allowed only on review events"}"#,
            #"{"field":"timestamp","index":4,"message":"must not be more than 300 seconds in the future (policy ingest.max_future_skew_seconds)"}"#,
        ]
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .unprocessableContent)
                let text = String(buffer: response.body)
                #expect(text.hasPrefix(#"{"errors":["# + problems.joined(separator: ",") + #"],"errors_not_shown":0,"summary":{"#))
                let summary = try #require(try Self.object(response.body)["summary"] as? [String: Any])
                let groups = try #require(summary["groups"] as? [[String: Any]])
                #expect(groups.count == problems.count)  // each rule is broken once here
                #expect((summary["unknown_types"] as? [[String: Any]])?.first?["value"] as? String == "teleport")
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    /// Issue 17: a batch of thousands of invalid events is answered with the first 100 problems, how many
    /// more there are, and every problem grouped by rule (count, first three positions), with the distinct
    /// unknown type values — never a user ID.
    @Test func aHugeInvalidBatchIsSummarisedByRule() async throws {
        let gateway = try await TestGateway.make()
        var lines: [String] = []
        for index in 0..<3_000 {
            let type = ["home", "product", "cart"][index % 3]
            lines.append(#"{"event_id":"e\#(index)","user_id":"secret-user-\#(index)@example.com","type":"\#(type)","timestamp":"2026-01-01T00:00:00Z"}"#)
        }
        lines.append(#"{"event_id":"x","user_id":"secret-user-x@example.com","type":"secret-user-x@example.com","timestamp":"2026-01-01T00:00:00Z"}"#)
        let body = ByteBuffer(string: lines.joined(separator: "\n"))
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: body
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect(!String(buffer: response.body).contains("secret-user"))
                let body = try Self.object(response.body)
                #expect((body["errors"] as? [Any])?.count == 100)
                #expect(body["errors_not_shown"] as? Int == 2_901)
                let summary = try #require(body["summary"] as? [String: Any])
                let groups = try #require(summary["groups"] as? [[String: Any]])
                #expect(groups.count == 1)
                #expect(groups.first?["field"] as? String == "type")
                #expect(groups.first?["count"] as? Int == 3_001)
                #expect(groups.first?["first"] as? [Int] == [0, 1, 2])
                let values = (summary["unknown_types"] as? [[String: Any]])?.map { "\($0["value"]!)=\($0["count"]!)" }
                #expect(values == ["cart=1000", "home=1000", "product=1000"])
                #expect(summary["unknown_types_not_shown"] as? Int == 1)
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    static func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test func unavailableStoreIs503WithRetryAfterAndNoInternalDetail() async throws {
        var faulty = try await TestGateway.make()
        // Fault injection at the store boundary: the real pipeline over a store whose commit fails.
        faulty.services.ingestor = IngestService(
            store: UnavailableCommitStore(base: faulty.context.events), keys: faulty.context.keys, policy: faulty.policy)
        let gateway = faulty
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 2)
            ) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"unavailable","message":"the service cannot complete this request right now; retry later"}"#)
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
        #expect(try await gateway.lastAuditRecord()["action"] as? String == "token.issue")
    }
}
