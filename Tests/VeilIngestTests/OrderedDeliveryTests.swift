import Synchronization
import Testing
import VeilCore
import VeilStore

@testable import VeilIngest

/// `OrderedDelivery` passes segments' batches on in segment order, whatever order they arrive in.
@Suite struct OrderedDeliveryTests {
    /// A batch recognisable by its single event's id.
    static func batch(_ id: String) -> IngestService.PreparedBatch {
        let event = StoredEvent(
            eventID: id, pseudonym: Pseudonym(high: 1, low: 1), epoch: 1, type: .view, timestampMillis: 0, session: nil,
            itemID: nil, category: nil, price: nil, quantity: nil, rating: nil, query: nil)
        return IngestService.PreparedBatch(events: [event], rawUserIDs: [:])
    }

    /// What a delivery passed on, by event id, in order.
    final class Received: Sendable {
        private let ids = Mutex<[String]>([])
        func take(_ batch: IngestService.PreparedBatch) { ids.withLock { $0.append(batch.events[0].eventID) } }
        var all: [String] { ids.withLock { $0 } }
    }

    @Test func laterSegmentsWaitForEarlierOnes() throws {
        let received = Received()
        let delivery = OrderedDelivery(segments: 3, pass: received.take)
        delivery.deliver(Self.batch("c1"), offset: 30, segment: 2)
        delivery.deliver(Self.batch("b1"), offset: 20, segment: 1)
        delivery.deliver(Self.batch("a1"), offset: 10, segment: 0)
        delivery.finish(segment: 2)
        delivery.deliver(Self.batch("b2"), offset: 21, segment: 1)
        delivery.deliver(Self.batch("a2"), offset: 11, segment: 0)
        delivery.finish(segment: 0)
        delivery.deliver(Self.batch("b3"), offset: 22, segment: 1)
        delivery.finish(segment: 1)
        #expect(received.all == ["a1", "a2", "b1", "b2", "b3", "c1"])
        #expect((0..<6).map(delivery.offset(ofBatch:)) == [10, 11, 20, 21, 22, 30])
    }

    @Test func anAbandonedDeliveryPassesNothingMore() throws {
        let received = Received()
        let delivery = OrderedDelivery(segments: 2, pass: received.take)
        delivery.deliver(Self.batch("a1"), offset: 1, segment: 0)
        delivery.deliver(Self.batch("b1"), offset: 2, segment: 1)
        delivery.abandon()
        delivery.deliver(Self.batch("a2"), offset: 3, segment: 0)
        delivery.finish(segment: 0)
        delivery.finish(segment: 1)
        #expect(received.all == ["a1"])
        #expect(delivery.isAbandoned)
    }
}
