import Foundation
import Synchronization
import Testing
import VeilCore
import VeilStore

/// The event store's contract: atomic batches with their audit records, idempotency, group commit,
/// all-or-nothing imports, ordered chunked scans, filtered scans, erasure, metadata.
enum EventContract {
    static let cases: [StoreContractCase] = [
        StoreContractCase("events: a batch commits whole, with its ingest.batch record") { deployment in
            let stores = try await deployment.open()
            let result = try await stores.events.commit(
                Fixtures.batch([Fixtures.event("a", 1, at: 10), Fixtures.event("b", 1, at: 20), Fixtures.event("a", 1, at: 30)]))
            #expect(result == BatchCommit(inserted: 2, duplicates: 1, newIdentities: 1))
            #expect(try await stores.events.events(for: Fixtures.pid(1)).map(\.eventID) == ["a", "b"])
            #expect(try await stores.vault.identity(for: Fixtures.pid(1)) == Fixtures.vault(Fixtures.pid(1)))
            #expect(try await stores.vault.dataKey(id: Fixtures.dataKey.id) == Fixtures.dataKey)
            let chain = try await deployment.verifiedChain(stores)
            #expect(chain.map(\.action) == ["ingest.batch"])
            #expect(chain.first?.details["accepted"] == .int(2))
            #expect(chain.first?.details["duplicates"] == .int(1))
        },
        StoreContractCase("events: every column round-trips") { deployment in
            let stores = try await deployment.open()
            var full = Fixtures.event("x", 3, at: -5, type: .review)
            full.rating = 4
            full.query = "blue shoes"
            full.session = nil
            full.price = nil
            full.itemID = ""
            full.properties = ["quantity": 3, "weight_kg": 0.25, "tab\tkey": -1e-7]
            _ = try await stores.events.commit(Fixtures.batch([full]))
            #expect(try await stores.events.events(for: Fixtures.pid(3)) == [full])
            #expect(try await stores.events.events(for: Fixtures.pid(4)) == [])
        },
        StoreContractCase("events: a repeated event_id is a duplicate, within a batch and across batches") { deployment in
            let stores = try await deployment.open()
            _ = try await stores.events.commit(Fixtures.batch([Fixtures.event("a", 1, at: 1), Fixtures.event("b", 2, at: 1)]))
            let again = try await stores.events.commit(
                Fixtures.batch([Fixtures.event("b", 2, at: 1), Fixtures.event("c", 2, at: 2), Fixtures.event("c", 2, at: 2)]))
            #expect(again == BatchCommit(inserted: 1, duplicates: 2, newIdentities: 0))
            #expect(try await stores.events.eventCount() == 3)
            #expect(try await stores.vault.identityCount() == 2)
        },
        // Swift's `==` on `String` is canonical equivalence: "é" as one scalar and as "e" with a combining
        // accent are equal Strings but two ids. PostgreSQL's writer once called them one and counted the
        // second event a duplicate (never stored). The second batch meets stored ids (on PostgreSQL its
        // COPY fails and the claim falls back to ON CONFLICT).
        StoreContractCase("events: ids are equal only byte for byte (a canonically equivalent id is another id)") { deployment in
            let stores = try await deployment.open()
            let (composed, decomposed) = ("\u{E9}", "e\u{301}")
            let first = try await stores.events.commit(Fixtures.batch([Fixtures.event(composed, 1, at: 1), Fixtures.event(decomposed, 2, at: 2)]))
            #expect(first.inserted == 2 && first.duplicates == 0)
            let second = try await stores.events.commit(
                Fixtures.batch([Fixtures.event(decomposed, 2, at: 3), Fixtures.event("new", 3, at: 4), Fixtures.event(composed, 1, at: 5)]))
            #expect(second.inserted == 1 && second.duplicates == 2)
            #expect(try await stores.events.eventCount() == 3)
            let ids = try await stores.events.events(for: Fixtures.pid(1)) + stores.events.events(for: Fixtures.pid(2))
            #expect(Set(ids.map { Array($0.eventID.utf8) }) == [Array(composed.utf8), Array(decomposed.utf8)])
        },
        StoreContractCase("events: a batch whose escrow fails stores nothing, and the caller's error comes back as it was") { deployment in
            let stores = try await deployment.open()
            let failing = EventBatchWrite(
                events: [Fixtures.event("a", 1, at: 1), Fixtures.event("b", 2, at: 1)], dataKey: Fixtures.dataKey,
                escrow: { pseudonym in
                    if pseudonym == Fixtures.pid(2) { throw CallerFailure(site: "escrow") }
                    return Fixtures.vault(pseudonym)
                }, audit: { Fixtures.ingestRecord($0) })
            await #expect(throws: CallerFailure(site: "escrow")) { try await stores.events.commit(failing) }
            #expect(try await stores.events.eventCount() == 0)
            #expect(try await stores.vault.identityCount() == 0)
            #expect(try await stores.audit.head() == .empty)
            // The store is still usable, and a pseudonym whose row was rolled back is escrowed again.
            let retried = try await stores.events.commit(Fixtures.batch([Fixtures.event("a", 1, at: 1)]))
            #expect(retried == BatchCommit(inserted: 1, duplicates: 0, newIdentities: 1))
        },
        StoreContractCase("events: concurrent batches are each counted once and each get their own record") { deployment in
            let stores = try await deployment.open()
            // 24 batches of 60 events; consecutive batches share 30 event ids.
            let batches = (0..<24).map { b in (0..<60).map { i in Fixtures.event("g-\(b * 30 + i)", UInt64(b % 7), at: Int64(i)) } }
            let results = try await withThrowingTaskGroup(of: BatchCommit.self) { group in
                for events in batches { group.addTask { try await stores.events.commit(Fixtures.batch(events)) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.inserted + $0.duplicates == 60 })
            let distinct = Set(batches.joined().map(\.eventID)).count
            #expect(results.map(\.inserted).reduce(0, +) == distinct)
            #expect(try await stores.events.eventCount() == distinct)
            let chain = try await deployment.verifiedChain(stores)
            #expect(chain.count == batches.count)
            #expect(chain.compactMap { Fixtures.number($0.details["accepted"]) }.reduce(0, +) == Double(distinct))
        },
        StoreContractCase("events: in a group, a batch that fails takes only its own group down, never half of it") { deployment in
            let stores = try await deployment.open()
            let batches = (0..<16).map { b in (0..<50).map { i in Fixtures.event("f-\(b)-\(i)", UInt64(100 + b), at: Int64(i)) } }
            let outcomes = await withTaskGroup(of: (Int, BatchCommit?).self) { group in
                for (index, events) in batches.enumerated() {
                    group.addTask {
                        let write =
                            index == 5
                            ? EventBatchWrite(
                                events: events, dataKey: Fixtures.dataKey, escrow: { _ in throw CallerFailure(site: "escrow") },
                                audit: { Fixtures.ingestRecord($0) })
                            : Fixtures.batch(events)
                        return (index, try? await stores.events.commit(write))
                    }
                }
                return await group.reduce(into: [BatchCommit?](repeating: nil, count: batches.count)) { $0[$1.0] = $1.1 }
            }
            #expect(outcomes[5] == nil)
            let stored = outcomes.compactMap { $0 }
            #expect(stored.allSatisfy { $0.inserted == 50 })
            #expect(try await stores.events.eventCount() == stored.count * 50)
            #expect(try await stores.vault.identityCount() == stored.count)
            #expect(try await deployment.verifiedChain(stores).count == stored.count, "one record per committed batch, none for a failed one")
        },
        StoreContractCase("events: an import is all or nothing, with one record for the whole") { deployment in
            let stores = try await deployment.open()
            // A producer that gives up: nothing stored, its own error back.
            let abandoned = EventBatchStream()
            abandoned.send(Fixtures.batch([Fixtures.event("i-1", 1, at: 1)]))
            let stored = Mutex(0)
            let failing = Task {
                try await stores.events.commitAll(abandoned, stored: { _ in stored.withLock { $0 += 1 } }, audit: { Fixtures.ingestRecord($0) })
            }
            while stored.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
            abandoned.send(Fixtures.batch([Fixtures.event("i-2", 2, at: 1)]))
            abandoned.finish(throwing: CallerFailure(site: "producer"))
            await #expect(throws: CallerFailure(site: "producer")) { try await failing.value }
            #expect(try await stores.events.eventCount() == 0)
            #expect(try await stores.vault.identityCount() == 0)
            #expect(try await stores.audit.head() == .empty)

            // A producer that finishes: every batch, one record with the total.
            let batches = EventBatchStream()
            let importing = Task {
                try await stores.events.commitAll(batches, stored: { _ in }, audit: { Fixtures.ingestRecord($0) })
            }
            for n in 0..<5 { batches.send(Fixtures.batch((0..<40).map { Fixtures.event("j-\(n)-\($0)", UInt64($0 % 9), at: Int64(n)) })) }
            batches.send(Fixtures.batch([Fixtures.event("j-0-0", 0, at: 0)]))
            batches.finish()
            #expect(try await importing.value == BatchCommit(inserted: 200, duplicates: 1, newIdentities: 9))
            #expect(try await stores.events.eventCount() == 200)
            let chain = try await deployment.verifiedChain(stores)
            #expect(chain.map(\.action) == ["ingest.batch"])
            #expect(chain.first?.details["accepted"] == .int(200))
        },
        StoreContractCase("events: a chunked scan returns every event once, in (pseudonym, time) order") { deployment in
            let stores = try await deployment.open()
            let day: Int64 = 86_400_000
            let stored = (0..<3_000).map { n in
                Fixtures.event("s-\(n)", UInt64(n) % 257 &* 7_919 % 257, at: 1_700_000_000_000 + Int64(n) * 40 * day / 3_000)
            }
            for start in stride(from: 0, to: stored.count, by: 1_000) {
                _ = try await stores.events.commit(Fixtures.batch(Array(stored[start..<(start + 1_000)])))
            }
            for limit in [1, 7, 64, 5_000] {
                var seen: [StoredEvent] = []
                var chunks = 0
                var cursor: EventCursor? = nil
                repeat {
                    let chunk = try await stores.events.events(after: cursor, limit: limit)
                    #expect(chunk.events.count <= limit)
                    #expect(!chunk.events.isEmpty || chunk.next == nil, "only the last chunk may be empty")
                    seen += chunk.events
                    cursor = chunk.next
                    chunks += 1
                } while cursor != nil && chunks <= stored.count + 2
                #expect(seen.count == stored.count, "limit \(limit)")
                #expect(Set(seen.map(\.eventID)) == Set(stored.map(\.eventID)), "limit \(limit)")
                let keys = seen.map { ($0.pseudonym, $0.timestampMillis) }
                #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 <= $1 }, "limit \(limit)")
                #expect(chunks <= 3 * (stored.count + limit - 1) / limit + 2, "limit \(limit): too many chunks")
            }
        },
        StoreContractCase("events: a scan of an empty store ends at once") { deployment in
            let stores = try await deployment.open()
            let chunk = try await stores.events.events(after: nil, limit: 10)
            #expect(chunk.events.isEmpty && chunk.next == nil)
            let seen = Mutex(0)
            try await stores.events.scan(.all, chunkSize: 10) { chunk in seen.withLock { $0 += chunk.count } }
            #expect(seen.withLock { $0 } == 0)
        },
        StoreContractCase("events: a user's events across many days come back in time order") { deployment in
            let stores = try await deployment.open()
            let day: Int64 = 86_400_000
            let stored = (0..<2_000).map { n in Fixtures.event("u-\(n)", UInt64(n % 50), at: Int64(n) * 200 * day / 2_000) }
            _ = try await stores.events.commit(Fixtures.batch(stored.shuffled()))
            for user in [UInt64(0), 17, 49] {
                let expected = stored.filter { $0.pseudonym == Fixtures.pid(user) }.sorted { $0.timestampMillis < $1.timestampMillis }
                #expect(expected.count == 40)
                #expect(try await stores.events.events(for: Fixtures.pid(user)) == expected)
            }
        },
        StoreContractCase("events: a filtered scan reads each admitted event once, and only those") { deployment in
            let stores = try await deployment.open()
            let day: Int64 = 86_400_000
            let types: [EventType] = [.view, .purchase, .search]
            let stored = (0..<900).map { (n: Int) -> StoredEvent in
                let millis: Int64 = Int64(n % 30) * day + Int64(n)
                return Fixtures.event("f-\(n)", UInt64(n % 13), at: millis, type: types[n % 3])
            }
            _ = try await stores.events.commit(Fixtures.batch(stored))
            let days = { (from: Int64, to: Int64) -> Range<Int64> in (from * day)..<(to * day) }
            let filters: [EventFilter] = [
                .all, EventFilter(time: days(3, 7)), EventFilter(types: [.purchase]),
                EventFilter(time: (10 * day + 5)..<(10 * day + 400), types: [.view, .search]), EventFilter(time: days(40, 41)),
                EventFilter(time: Int64.min..<(2 * day)),
            ]
            for filter in filters {
                let seen = Mutex<[String]>([])
                try await stores.events.scan(filter, chunkSize: 64) { chunk in
                    #expect(chunk.count <= 64)
                    seen.withLock { $0 += chunk.map(\.eventID) }
                }
                let ids = seen.withLock { $0 }
                #expect(ids.sorted() == stored.filter(filter.contains).map(\.eventID).sorted(), "\(filter)")
            }
            // An error thrown by the consumer stops the scan and comes back as it was.
            await #expect(throws: CallerFailure(site: "consumer")) {
                try await stores.events.scan(.all, chunkSize: 10) { _ in throw CallerFailure(site: "consumer") }
            }
        },
        StoreContractCase("events: a scan that names its fields returns exactly those fields' values, equal to the full scan's") {
            deployment in
            let stores = try await deployment.open()
            let stored = (0..<60).map { (n: Int) -> StoredEvent in
                var event = Fixtures.event("p-\(n)", UInt64(n % 7), at: Int64(n) * 1_000, type: n % 2 == 0 ? .purchase : .view)
                if n % 3 == 0 { event.session = nil }
                if n % 4 == 0 { event.itemID = nil }
                if n % 5 == 0 { event.price = nil }
                event.rating = n % 2 == 0 ? n % 5 + 1 : nil
                event.query = n % 3 == 1 ? "query \(n)\twith\\escapes" : nil
                event.properties = n % 2 == 1 ? ["basket": Double(n) / 4, "items": 3] : [:]
                return event
            }
            _ = try await stores.events.commit(Fixtures.batch(stored))
            func scanned(_ filter: EventFilter) async throws -> [StoredEvent] {
                let events = Mutex<[StoredEvent]>([])
                try await stores.events.scan(filter, chunkSize: 16) { chunk in events.withLock { $0 += chunk } }
                return events.withLock { $0 }.sorted { $0.timestampMillis < $1.timestampMillis }
            }
            let full = try await scanned(.all)
            #expect(full == stored)
            var choices: [Set<StoredEventField>] = [[], Set(StoredEventField.allCases), [.price, .quantity, .session]]
            choices += StoredEventField.allCases.map { [$0] }
            for fields in choices {
                for types in [nil, Set([EventType.purchase])] {
                    let filter = EventFilter(types: types, fields: fields)
                    let pruned = try await scanned(filter)
                    #expect(pruned == full.filter(filter.contains).map(filter.trimmed), "\(fields.map(\.rawValue).sorted())")
                }
            }
        },
        StoreContractCase("events: erasure deletes a subject's events and vault row with its record, in one step") { deployment in
            let stores = try await deployment.open()
            _ = try await stores.events.commit(
                Fixtures.batch([Fixtures.event("a", 1, at: 1), Fixtures.event("b", 1, at: 2), Fixtures.event("c", 2, at: 3)]))
            let erase = { (pseudonym: Pseudonym) in
                try await stores.events.erase(pseudonym) { counts in
                    AuditDraft(
                        actor: "dpo", action: .subjectErase,
                        details: ["events": .int(Int64(counts.events)), "identities": .int(Int64(counts.identities))])
                }
            }
            #expect(try await erase(Fixtures.pid(1)) == ErasureCounts(events: 2, identities: 1))
            #expect(try await erase(Fixtures.pid(1)) == ErasureCounts(events: 0, identities: 0))
            #expect(try await stores.events.eventCount() == 1)
            #expect(try await stores.vault.identity(for: Fixtures.pid(1)) == nil)
            #expect(try await stores.vault.identity(for: Fixtures.pid(2)) != nil)
            let chain = try await deployment.verifiedChain(stores)
            #expect(chain.map(\.action) == ["ingest.batch", "subject.erase", "subject.erase"])
            #expect(chain[1].details["events"] == .int(2))
            // A returning user is escrowed again, even through a store opened by another process.
            let other = try await deployment.open()
            #expect(try await other.events.commit(Fixtures.batch([Fixtures.event("d", 1, at: 4)])).newIdentities == 1)
        },
        StoreContractCase("events: metadata — latest time, events in a range, counts") { deployment in
            let stores = try await deployment.open()
            #expect(try await stores.events.latestEventMillis() == nil)
            #expect(try await stores.events.containsEvents(in: 0..<Int64.max) == false)
            let day: Int64 = 86_400_000
            _ = try await stores.events.commit(
                Fixtures.batch([
                    Fixtures.event("a", 1, at: 3 * day + 5), Fixtures.event("b", 2, at: 10 * day + 7), Fixtures.event("c", 1, at: 10 * day + 2),
                ]))
            #expect(try await stores.events.latestEventMillis() == 10 * day + 7)
            #expect(try await stores.events.containsEvents(in: (10 * day)..<(10 * day + 7)))
            #expect(try await stores.events.containsEvents(in: (10 * day + 8)..<(11 * day)) == false)
            #expect(try await stores.events.containsEvents(in: (4 * day)..<(10 * day)) == false)
            #expect(try await stores.events.containsEvents(in: (3 * day + 5)..<(3 * day + 6)))
            #expect(try await stores.events.containsEvents(in: (3 * day)..<(3 * day)) == false)
            #expect(try await stores.events.eventCount() == 3)
            #expect(try await stores.vault.identityCount() == 2)
            #expect(try await stores.events.settle() >= 0)
        },
        StoreContractCase("events: statistics — events and distinct pseudonyms per UTC day and type, the range, the size") { deployment in
            let stores = try await deployment.open()
            let empty = try await stores.events.statistics()
            #expect(empty.total == EventTally(events: 0, pseudonyms: 0))
            #expect(empty.days.isEmpty && empty.earliestMillis == nil && empty.latestMillis == nil)
            let day: Int64 = 86_400_000
            _ = try await stores.events.commit(
                Fixtures.batch([
                    Fixtures.event("a", 1, at: 3 * day + 5), Fixtures.event("b", 1, at: 3 * day + 9),
                    Fixtures.event("c", 1, at: 4 * day - 1, type: .purchase), Fixtures.event("d", 2, at: 3 * day),
                    Fixtures.event("e", 2, at: 10 * day + 7), Fixtures.event("f", 3, at: -5, type: .search),
                ]))
            let statistics = try await stores.events.statistics()
            #expect(statistics.total == EventTally(events: 6, pseudonyms: 3))
            #expect(statistics.earliestMillis == -5)
            #expect(statistics.latestMillis == 10 * day + 7)
            #expect(statistics.storageBytes > 0)
            let one = EventTally(events: 1, pseudonyms: 1)
            #expect(
                statistics.days == [
                    DayTally(day: -1, total: one, types: [.search: one]),
                    DayTally(
                        day: 3, total: EventTally(events: 4, pseudonyms: 2),
                        types: [.view: EventTally(events: 3, pseudonyms: 2), .purchase: one]),
                    DayTally(day: 10, total: one, types: [.view: one]),
                ])
            #expect(StoredEventStatistics.day(ofMillis: -5) == -1 && StoredEventStatistics.day(ofMillis: -day) == -1)
            // Erasure shows at once; the audit chain holds only the batch and the erasure (a read records nothing).
            _ = try await stores.events.erase(Fixtures.pid(2)) { _ in AuditDraft(actor: "dpo", action: .subjectErase, details: [:]) }
            let after = try await stores.events.statistics()
            #expect(after.total == EventTally(events: 4, pseudonyms: 2))
            #expect(after.days.map(\.day) == [-1, 3])
            #expect(try await deployment.verifiedChain(stores).map(\.action) == ["ingest.batch", "subject.erase"])
        },
    ]
}
