import Foundation
import Synchronization
import Testing
import VeilCore
import VeilStore
import VeilTestSupport

@testable import VeilIngest

/// An import's memory depends on its batch size, not its file (issue 18): the validation tasks wait for
/// the store's writer instead of piling prepared batches up in memory (`EventBatchStream.waitForRoom`,
/// `OrderedDelivery.waitForRoom`, `EventImporter.batchesAhead`).
///
/// The limit turns a hang into a failure. It is 10 minutes, as elsewhere: the producers are tasks on the
/// shared cooperative pool, which the whole parallel run can keep busy on 2 cores for minutes (at 2
/// minutes two of these tests timed out while `make results` ran beside `make test`; alone they take 2 s).
@Suite(.timeLimit(.minutes(10))) struct ImportBackpressureTests {
    static func write(_ id: String) -> EventBatchWrite {
        EventBatchWrite(events: OrderedDeliveryTests.batch(id).events, dataKey: DataKeyRecord(id: "k", sealed: [], created: Date())) { _ in
            throw VeilError(.integrity, "not escrowed in this test")
        }
    }

    /// A producer waiting for room goes on once the reader takes a batch, not before.
    @Test func aProducerWaitsUntilTheReaderTakesABatch() async throws {
        let stream = EventBatchStream()
        stream.send(Self.write("a"))
        stream.send(Self.write("b"))
        #expect(stream.waiting == 2)
        let resumed = Mutex(false)
        let producer = Task {
            await stream.waitForRoom(below: 2)
            resumed.withLock { $0 = true }
        }
        for _ in 0..<100 { await Task.yield() }
        #expect(!resumed.withLock { $0 }, "two batches wait: no room below 2")
        #expect(try stream.nextWaiting()?.events.first?.eventID == "a")
        await producer.value
        #expect(resumed.withLock { $0 })
        #expect(stream.waiting == 1)
    }

    /// The stream keeps no batch the reader has taken, even while others wait behind it: a producer
    /// that kept a batch waiting at every take (a writer slower than validation) made the stream hold
    /// every batch sent, so an import's memory grew with its file.
    @Test func aTakenBatchIsNotHeldWhileOthersWait() throws {
        final class Marker: Sendable {}
        let stream = EventBatchStream()
        weak var first: Marker?
        do {
            let marker = Marker()
            first = marker
            var batch = Self.write("a")
            batch.escrow = { _ in _ = marker; throw VeilError(.integrity, "not escrowed in this test") }
            stream.send(batch)
        }
        for index in 0..<200 {
            stream.send(Self.write("b\(index)"))
            #expect(try stream.nextWaiting() != nil)
            if index == 0 { #expect(first == nil, "the first batch, taken, is still held by the stream") }
        }
        #expect(stream.waiting == 1)
        stream.finish()
        #expect(try stream.nextWaiting()?.events.first?.eventID == "b199")
        #expect(try stream.nextWaiting() == nil)
    }

    /// A reader that gives up lets waiting producers go on, drops what waits and keeps nothing sent later.
    @Test func stoppingTheReaderReleasesProducersAndDropsBatches() async throws {
        let stream = EventBatchStream()
        stream.send(Self.write("a"))
        let producer = Task { await stream.waitForRoom(below: 1) }
        stream.stopReading()
        await producer.value
        #expect(stream.waiting == 0)
        stream.send(Self.write("b"))
        #expect(stream.waiting == 0)
        await stream.waitForRoom(below: 1)
    }

    /// A later segment keeps at most `limit` batches waiting for its turn; it goes on when its turn
    /// comes (the earlier segment finishes), or when the delivery is abandoned.
    @Test func aLaterSegmentWaitsForItsTurnWithAtMostLimitBatches() async throws {
        let received = OrderedDeliveryTests.Received()
        let delivery = OrderedDelivery(segments: 2, limit: 2, pass: received.take)
        delivery.deliver(OrderedDeliveryTests.batch("b1"), offset: 1, segment: 1)
        await delivery.waitForRoom(segment: 1)  // one waits: room for a second
        delivery.deliver(OrderedDeliveryTests.batch("b2"), offset: 2, segment: 1)
        let resumed = Mutex(false)
        let producer = Task {
            await delivery.waitForRoom(segment: 1)
            resumed.withLock { $0 = true }
        }
        for _ in 0..<100 { await Task.yield() }
        #expect(!resumed.withLock { $0 }, "two batches of segment 1 wait for segment 0")
        delivery.deliver(OrderedDeliveryTests.batch("a1"), offset: 0, segment: 0)
        delivery.finish(segment: 0)
        await producer.value
        #expect(received.all == ["a1", "b1", "b2"])

        let abandoned = OrderedDelivery(segments: 2, limit: 1, pass: received.take)
        abandoned.deliver(OrderedDeliveryTests.batch("c1"), offset: 1, segment: 1)
        let released = Task { await abandoned.waitForRoom(segment: 1) }
        abandoned.abandon()
        await released.value
    }

    /// A store whose writer is slow: the real SQLite store, fed through a relay that takes the
    /// importer's batches one at a time, pausing between them, and records how many were waiting and
    /// how many each transaction took. With `holdsFirst`, it takes none until as many wait as a
    /// one-transaction import may prepare ahead of it (`EventImporter.storeBatchesAhead`), and a
    /// second more. `eventsPerWriteUnit`: the unit it tells producers it gathers (SQLite's 0 when nil).
    /// TEST ONLY: everything it relays is committed by the real store, in the transaction it came in.
    final class SlowWriterStore: ForwardingEventStore, @unchecked Sendable {
        let base: any EventStore
        let holdsFirst: Bool
        let unitEvents: Int?
        let mostWaiting = Mutex(0)
        let batchesPerTransaction = Mutex<[Int]>([])

        init(base: any EventStore, holdsFirst: Bool = true, eventsPerWriteUnit: Int? = nil) {
            self.base = base
            self.holdsFirst = holdsFirst
            unitEvents = eventsPerWriteUnit
        }

        var eventsPerWriteUnit: Int { unitEvents ?? base.eventsPerWriteUnit }

        func commitAll(
            _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
            audit: @escaping @Sendable (BatchCommit) -> AuditDraft
        ) async throws -> BatchCommit {
            let relay = EventBatchStream()
            let feeding = Task {
                var count = 0
                do {
                    if holdsFirst {
                        // Nothing is taken until `batchesAhead` batches wait, and then not for another
                        // second: time for a producer that did not wait to prepare more.
                        // (At most 30 s: a producer that stops short of that is seen in `mostWaiting`.)
                        let ahead = EventImporter.storeBatchesAhead(unitEvents: eventsPerWriteUnit)
                        let deadline = ContinuousClock.now + .seconds(30)
                        while batches.waiting < ahead && ContinuousClock.now < deadline {
                            try await Task.sleep(for: .milliseconds(10))
                        }
                        try await Task.sleep(for: .seconds(1))
                    }
                    while true {
                        self.mostWaiting.withLock { $0 = max($0, batches.waiting) }
                        guard let batch = try await batches.next() else { break }
                        count += 1
                        await relay.waitForRoom(below: 1)
                        relay.send(batch)
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    relay.finish()
                } catch {
                    relay.finish(throwing: error)
                }
                self.batchesPerTransaction.withLock { $0.append(count) }
            }
            defer { feeding.cancel() }
            return try await base.commitAll(relay, stored: stored, audit: audit)
        }
    }

    /// Imports 7 hand-off batches of valid lines in one transaction, validated by one task, through a
    /// `SlowWriterStore` over the fixture's SQLite store that declares `eventsPerWriteUnit` (SQLite's
    /// 0 when nil); checks the file was stored whole and returns how many batches waited at most.
    static func mostWaitingForASlowWriter(eventsPerWriteUnit: Int? = nil) async throws -> Int {
        let fixture = try Fixture()
        let lines = OneTransactionImportTests.lines(7 * EventImporter.handOffSize, users: 400)  // dates up to the fixture's now
        let path = try fixture.file("events.ndjson", lines.joined(separator: "\n") + "\n")
        let store = SlowWriterStore(base: fixture.store, eventsPerWriteUnit: eventsPerWriteUnit)
        var options = ImportOptions()
        options.validationTasks = 1
        let service = IngestService(store: store, keys: fixture.keys, policy: fixture.policy, clock: .fixed(Fixture.now))
        let report = try await EventImporter(service: service, options: options).importFile(path, actor: "cli")
        #expect(report.stored && report.accepted == lines.count)
        #expect(try await fixture.store.eventCount() == lines.count)
        return store.mostWaiting.withLock { $0 }
    }

    /// However far validation could run ahead, at most `batchesAhead` prepared batches wait for the
    /// store (before: every batch of the file could), and the file is still stored whole, in order.
    @Test func validationWaitsForASlowWriter() async throws {
        let most = try await Self.mostWaitingForASlowWriter()
        #expect(most == EventImporter.batchesAhead, "at most \(EventImporter.batchesAhead) batches ahead; \(most) were")
    }

    /// A store that writes in units (PostgreSQL gathers 50,000 events, then writes them) gets a whole
    /// unit and one batch more prepared ahead of it, so the next unit is ready when it has written one;
    /// with `batchesAhead` alone the validation task waited while each unit was stored. Still bounded:
    /// no more than that waits, and the file is stored whole, in order.
    @Test func aStoreThatWritesInUnitsGetsAWholeUnitPreparedAhead() async throws {
        let unit = 4 * EventImporter.handOffSize + 1
        // Five batches hold the unit (four and one event more), and one more is the next unit's first.
        #expect(EventImporter.storeBatchesAhead(unitEvents: unit) == 6)
        #expect(EventImporter.storeBatchesAhead(unitEvents: 0) == EventImporter.batchesAhead)
        let most = try await Self.mostWaitingForASlowWriter(eventsPerWriteUnit: unit)
        #expect(most == 6, "a unit and a batch ahead; \(most) were")
    }
}
