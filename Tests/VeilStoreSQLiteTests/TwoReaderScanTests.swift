import Foundation
import GRDB
import Synchronization
import Testing
import VeilCore
import VeilStore
@testable import VeilStoreSQLite

/// A whole-store scan reads on two connections at once (`TwoReaderScan`) and must still be one scan of
/// one snapshot: every event once, in the order of a one-reader scan, and never two snapshots mixed.
@Suite struct TwoReaderScanTests {
    /// With holes in the rowids (an erased user), ranges smaller and larger than the chunks and a type
    /// filter, the chunks reach the caller in rowid order: what a one-reader `SELECT` returns.
    @Test func aWholeStoreScanReturnsTheOneReaderOrder() async throws {
        let scratch = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: scratch.path)
        let types: [EventType] = [.view, .purchase, .search]
        for start in stride(from: 0, to: 600, by: 150) {
            _ = try await fixture.events.commit(
                batch((start..<(start + 150)).map { n in event("r-\(n)", UInt64(n % 17), at: Int64(600 - n) * 1_000, type: types[n % 3]) }))
        }
        _ = try await fixture.events.erase(pid(5), audit: erasure)
        for filter in [EventFilter.all, EventFilter(types: [.purchase, .search], fields: [.category])] {
            let oneReader = try await fixture.database.read("test") { db in
                let (sql, selection, arguments) = SQLiteEventStore.scanStatement(filter)!
                var ids: [String] = []
                var rowids: [Int64] = []
                try EventRowReader.forEach(sql, selection: selection, arguments: arguments, in: db) { event, rowid in
                    ids.append(event.eventID)
                    rowids.append(rowid)
                }
                return (ids, rowids)
            }
            #expect(oneReader.1 == oneReader.1.sorted(), "a table scan reads in rowid order")
            for chunkSize in [1, 7, 64, 1_000] {
                let chunks = Mutex<[[StoredEvent]]>([])
                try await fixture.events.scan(filter, chunkSize: chunkSize) { chunk in chunks.withLock { $0.append(chunk) } }
                let seen = chunks.withLock { $0 }
                #expect(seen.allSatisfy { !$0.isEmpty && $0.count <= chunkSize }, "chunk size \(chunkSize)")
                #expect(seen.joined().map(\.eventID) == oneReader.0, "chunk size \(chunkSize), \(filter)")
            }
        }
    }

    /// The witness changes with every commit that changes `events`: a batch without an audit record
    /// (only the largest rowid tells), an erasure of rows below the largest (only the chain tells).
    @Test func theWitnessSeesEveryChangeToTheEvents() async throws {
        let scratch = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: scratch.path)
        let witness = { try await fixture.database.read("test") { db in try TwoReaderScan.Witness(db) } }
        let empty = try await witness()
        #expect(empty.lastRowid == nil && empty.chainHead == .empty)
        _ = try await fixture.events.commit(batch([event("a", 1, at: 1), event("b", 2, at: 2)]))
        let stored = try await witness()
        #expect(stored != empty)
        #expect(try await witness() == stored, "nothing committed, nothing changed")

        var unaudited = batch([event("c", 3, at: 3)])
        unaudited.audit = nil
        _ = try await fixture.events.commit(unaudited)
        let afterUnaudited = try await witness()
        #expect(afterUnaudited.chainHead == stored.chainHead)
        #expect(afterUnaudited != stored)

        _ = try await fixture.events.erase(pid(1), audit: erasure)
        let afterErasure = try await witness()
        #expect(afterErasure.lastRowid == afterUnaudited.lastRowid)
        #expect(afterErasure != afterUnaudited)

        _ = try await fixture.events.commit(batch([event("a", 1, at: 1)]))  // erased, so stored anew
        #expect(try await witness() != afterErasure)
    }

    /// Scans while batches and erasures commit: each scan sees one snapshot — whole batches only, and
    /// an erased user either whole or not at all — never half of a commit from one reader and the rest
    /// from the other.
    @Test func aScanDuringCommitsSeesOneSnapshot() async throws {
        let scratch = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: scratch.path)
        let perBatch = 50
        let batches = 40
        _ = try await fixture.events.commit(batch((0..<perBatch).map { event("w-0-\($0)", 1_000, at: Int64($0)) }))
        let finished = Mutex(false)
        let writing = Task {
            defer { finished.withLock { $0 = true } }
            for b in 1..<batches {
                _ = try await fixture.events.commit(batch((0..<perBatch).map { event("w-\(b)-\($0)", UInt64($0 % 5), at: Int64(b * 100 + $0)) }))
                if b == batches / 2 { _ = try await fixture.events.erase(pid(1_000), audit: erasure) }
            }
        }
        var scans = 0
        repeat {
            let ids = Mutex<[String]>([])
            try await fixture.events.scan(.all, chunkSize: 7) { chunk in ids.withLock { $0 += chunk.map(\.eventID) } }
            let seen = ids.withLock { $0 }
            let perBatchSeen = Dictionary(grouping: seen) { $0.split(separator: "-")[1] }.mapValues(\.count)
            #expect(perBatchSeen.values.allSatisfy { $0 == perBatch }, "a batch seen in part: \(perBatchSeen)")
            #expect(Set(seen).count == seen.count, "an event seen twice")
            scans += 1
        } while !finished.withLock({ $0 })
        #expect(scans >= 1)
        try await writing.value
    }

    /// Readers go on only when every witness is the same; one that failed (nil) stops the others.
    @Test func readersAgreeOnlyOnOneWitness() async throws {
        let head = AuditHead(seq: 3, hash: [UInt8](repeating: 1, count: 32))
        let one = TwoReaderScan.Witness(chainHead: head, lastRowid: 10)
        let other = TwoReaderScan.Witness(chainHead: head, lastRowid: 11)
        let cases: [([TwoReaderScan.Witness?], Bool)] = [([one, one], true), ([one, other], false), ([one, nil], false)]
        for (witnesses, agreed) in cases {
            let agreement = WitnessAgreement(readers: 2)
            let answers = Mutex<[Bool]>([])
            let done = DispatchGroup()
            for (lane, witness) in witnesses.enumerated() {
                DispatchQueue.global().async(group: done) {
                    if let witness {
                        let answer = agreement.arrive(lane, witness)
                        answers.withLock { $0.append(answer) }
                    } else {
                        agreement.record(lane, nil)
                    }
                }
            }
            await withCheckedContinuation { continuation in done.notify(queue: .global()) { continuation.resume() } }
            #expect(answers.withLock { $0 } == Array(repeating: agreed, count: witnesses.compactMap { $0 }.count))
        }
    }

    /// The caller's error stops both readers and comes back as it was; the store scans again afterwards.
    @Test func theCallersErrorStopsBothReaders() async throws {
        struct Stop: Error, Equatable {}
        let scratch = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: scratch.path)
        _ = try await fixture.events.commit(batch((0..<200).map { event("s-\($0)", UInt64($0 % 9), at: Int64($0)) }))
        let calls = Mutex(0)
        await #expect(throws: Stop()) {
            try await fixture.events.scan(.all, chunkSize: 5) { _ in
                let call = calls.withLock { count in
                    count += 1
                    return count
                }
                if call == 3 { throw Stop() }
            }
        }
        #expect(calls.withLock { $0 } == 3, "no chunk after the error")
        let seen = Mutex(0)
        try await fixture.events.scan(.all, chunkSize: 5) { chunk in seen.withLock { $0 += chunk.count } }
        #expect(seen.withLock { $0 } == 200)
    }
}
