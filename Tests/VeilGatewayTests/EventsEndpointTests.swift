import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

@Suite struct EventsEndpointTests {
    @Test func ndjsonBatchIsAcceptedAndAttributedToTheTokenName() async throws {
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
        #expect(await gateway.ingestor.calls == [.init(actor: "test-ingest", format: .ndjson, events: 3)])
    }

    @Test func jsonArrayBatchWithCharsetIsAccepted() async throws {
        let gateway = try await TestGateway.make()
        let body = #"[{"event_id":"a","user_id":"u1"},{"event_id":"b","user_id":"u2"}]"#
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post,
                headers: gateway.headers(.ingest, contentType: "application/json; charset=utf-8"), body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"accepted":2,"duplicates":0}"#)
            }
        }
        #expect(await gateway.ingestor.calls.first?.format == .jsonArray)
    }

    @Test func resentBatchCountsDuplicates() async throws {
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
        #expect(await gateway.ingestor.calls.isEmpty)
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
        #expect(await gateway.ingestor.calls.isEmpty)
    }

    @Test func batchPastTheEventLimitIs413() async throws {
        let gateway = try await TestGateway.make(maxBatchEvents: 2)
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 3)
            ) { response in
                #expect(response.status == .contentTooLarge)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"too_large","message":"batch: holds more than 2 events (policy ingest.max_batch_events)"}"#)
            }
        }
    }

    @Test func invalidEventsAre422WithEveryProblemAndNothingStored() async throws {
        let gateway = try await TestGateway.make()
        let body = """
            {"event_id":"ok-1","user_id":"u1"}
            {"user_id":"u2"}
            {"event_id":"ok-3"}

            """
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect(
                    String(buffer: response.body)
                        == #"{"errors":[{"field":"event_id","index":1,"message":"is required: a string of 1–128 bytes"},{"field":"user_id","index":2,"message":"is required: a string of 1–256 bytes"}]}"#
                )
            }
        }
        #expect(await gateway.ingestor.storedEventIDs.isEmpty)
    }

    @Test func unavailableStoreIs503WithRetryAfterAndNoInternalDetail() async throws {
        let gateway = try await TestGateway.make()
        await gateway.ingestor.setFailing(true)
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
    }
}
