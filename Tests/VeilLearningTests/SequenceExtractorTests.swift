import Foundation
import Testing
import VeilCore
@testable import VeilLearning

@Suite struct SequenceExtractorTests {
    private let pid = Pseudonym(high: 7, low: 9)
    // 2026-01-01T00:00:00Z as Unix milliseconds.
    private let start: Int64 = 1_767_225_600_000
    private let fields = SequenceSchema.Field.allCases.count

    private func event(
        _ id: String, _ type: EventType, second: Int64, item: String? = nil, category: String? = nil, price: Double? = nil
    ) -> StoredEvent {
        StoredEvent(
            eventID: id, pseudonym: pid, epoch: 1, type: type, timestampMillis: start + second * 1000,
            itemID: item, category: category, price: price)
    }

    private func extractor(
        length: Int = 50, cutoffSecond: Int64 = 100_000, observationStart: Int64? = nil, context: Bool = false
    ) throws -> SequenceExtractor {
        var policy = Policy()
        policy.sequences.length = length
        policy.sequences.gapBoundsSeconds = [60, 3600]
        policy.sequences.priceBounds = [10, 100]
        policy.categories = ["books", "toys"]
        var schema = SequenceSchema(policy: policy, vocabulary: try ItemVocabulary(items: ["i1", "i2", "i3"]))
        if context { schema.context = FeatureSchema(policy: policy) }
        return SequenceExtractor(
            schema: schema,
            window: FeatureWindow(
                observationStart: observationStart.map { start + $0 * 1000 }, cutoff: start + cutoffSecond * 1000,
                horizonEnd: start + (cutoffSecond + 86_400) * 1000))
    }

    /// The tokens of event `position` (oldest first).
    private func tokens(_ example: SequenceExample, _ position: Int) -> [Int32] {
        Array(example.tokens[(position * fields)..<((position + 1) * fields)])
    }

    @Test func eachFieldIsEncodedByPublicBoundsAndVocabularies() throws {
        let events = [
            event("a", .view, second: 0, item: "i2", category: "toys", price: 10),
            event("b", .addToCart, second: 60, item: "unlisted", category: "garden", price: 10.01),
            event("c", .search, second: 61),
            event("d", .purchase, second: 3662, item: "i1", category: "books", price: 1000),
        ]
        let example = try #require(try extractor().example(for: events))
        #expect(example.length == 4)
        #expect(example.pseudonym == pid)
        // type index, item 1 + vocabulary index ("other" = 1 + 3), category 1 + index ("other" = 1 + 2),
        // gap 0 for the first event else 1 + bucket (≤ 60 s, ≤ 3600 s, longer), price 0 or 1 + bucket.
        #expect(tokens(example, 0) == [Int32(EventType.view.index), 2, 2, 0, 1])
        #expect(tokens(example, 1) == [Int32(EventType.addToCart.index), 4, 3, 1, 2])
        #expect(tokens(example, 2) == [Int32(EventType.search.index), 0, 0, 1, 0])
        #expect(tokens(example, 3) == [Int32(EventType.purchase.index), 1, 1, 3, 3])
        let schema = try extractor().schema
        for field in SequenceSchema.Field.allCases {
            for position in 0..<4 {
                #expect(Int(tokens(example, position)[field.rawValue]) < schema.tokenCount(field), "\(field)")
            }
        }
    }

    @Test func keepsTheLastEventsBeforeTheCutoffInTimeOrder() throws {
        let observed = (0..<8).map { event("e\($0)", .view, second: Int64($0) * 10, item: "i3") }
        let horizon = [event("h1", .purchase, second: 100_500, item: "i1", category: "toys")]
        let extractor = try extractor(length: 5)
        let example = try #require(extractor.example(for: (observed + horizon).shuffled()))
        #expect(example.length == 5)
        // Events 3...7 kept; the first kept still has its gap from event 2 (10 s).
        #expect(tokens(example, 0)[SequenceSchema.Field.gap.rawValue] == 1)
        #expect(example.outcome == Outcome(purchased: true, churned: false, nextCategory: 1, nextItem: "i1"))
        // The same outcome as the feature extractor reads from the same events.
        let rows = FeatureExtractor(schema: FeatureSchema(policy: Policy()), window: extractor.window)
        #expect(rows.example(for: observed + horizon)?.outcome.purchased == true)
    }

    @Test func tiesInTimeAreOrderedByEventIDWhateverTheInputOrder() throws {
        let events = [
            event("b", .view, second: 5, item: "i2"), event("a", .view, second: 5, item: "i1"),
            event("c", .view, second: 1, item: "i3"),
        ]
        let first = try #require(try extractor().example(for: events))
        let second = try #require(try extractor().example(for: events.reversed()))
        #expect(first == second)
        #expect(first.tokens.enumerated().filter { $0.offset % fields == 1 }.map(\.element) == [3, 1, 2])
    }

    @Test func theObservationWindowBoundsTheSequenceAndItsGaps() throws {
        let events = [event("a", .view, second: 0), event("b", .view, second: 500), event("c", .view, second: 600)]
        let example = try #require(try extractor(observationStart: 400).example(for: events))
        #expect(example.length == 2)
        #expect(tokens(example, 0)[SequenceSchema.Field.gap.rawValue] == 0)  // nothing observed before it
        #expect(try extractor(cutoffSecond: 0).example(for: events) == nil)  // nothing before the cutoff
    }

    @Test func vocabularyRefusesRepeatsWithoutNamingTheItem() throws {
        let error = #expect(throws: VeilError.self) { try ItemVocabulary(items: ["sku-1", "sku-2", "sku-1"]) }
        #expect(error?.field == "item_id")
        #expect(error?.message.contains("item 3") == true)
        #expect(error?.message.contains("sku") == false)
        #expect(throws: VeilError.self) { try ItemVocabulary(items: ["a", ""]) }
        #expect(throws: VeilError.self) { try ItemVocabulary(items: ["a"], categories: []) }
    }

    @Test func vocabularyMapsUnknownItemsToOtherAndRoundTrips() throws {
        let vocabulary = try ItemVocabulary(items: ["x", "y"], categories: ["books", nil])
        #expect(vocabulary.index(of: "y") == 1)
        #expect(vocabulary.index(of: "z") == vocabulary.otherIndex)
        #expect(vocabulary.item(at: vocabulary.otherIndex) == nil)
        let decoded = try JSONDecoder().decode(ItemVocabulary.self, from: JSONEncoder().encode(vocabulary))
        #expect(decoded == vocabulary)
        #expect(decoded.index(of: "x") == 0)
    }

    /// With context, a sequence carries the feature-row model's features for the same user and window
    /// (the same extractor), then the time from its last event to the cutoff one-hot over the gap buckets
    /// (≤ 60 s, ≤ 3600 s, longer) — over the whole window, not only the L events kept.
    @Test func theContextIsTheFeatureRowAndTheBucketedTimeToTheCutoff() throws {
        let observed = (0..<8).map { event("e\($0)", .view, second: Int64($0) * 10, item: "i3", category: "books") }
        let horizon = [event("h1", .purchase, second: 100_500, item: "i1", category: "toys")]
        let rows = { (extractor: SequenceExtractor) in
            FeatureExtractor(schema: try #require(extractor.schema.context), window: extractor.window)
        }
        for (cutoff, bucket) in [(100, 1), (130, 1), (131, 2), (3_000, 2), (100_000, 3)] {
            let extractor = try extractor(length: 5, cutoffSecond: Int64(cutoff), context: true)
            let example = try #require(extractor.example(for: (observed + horizon).shuffled()))
            let features = try #require(try rows(extractor).example(for: observed + horizon)).features
            #expect(extractor.schema.contextWidth == features.count + 3)
            #expect(example.context.count == extractor.schema.contextWidth)
            #expect(Array(example.context.prefix(features.count)) == features, "cutoff \(cutoff)")
            // The last event is at 70 s: 30, 60, 61, 2,930 and 99,930 s before the cutoffs.
            #expect(Array(example.context.suffix(3)) == (1...3).map { $0 == bucket ? 1 : 0 }, "cutoff \(cutoff)")
            #expect(extractor.schema.contextNames.count == extractor.schema.contextWidth)
            #expect(extractor.schema.contextNames.suffix(3) == ["time_to_cutoff_le_60s", "time_to_cutoff_le_3600s", "time_to_cutoff_gt_3600s"])
        }
        // The count of views sees all 8 events though the sequence keeps 5.
        let extractor = try extractor(length: 5, context: true)
        let example = try #require(extractor.example(for: observed))
        let views = try #require(extractor.schema.context?.names.firstIndex(of: "count_view"))
        #expect(example.length == 5)
        #expect(example.context[views] == (try #require(extractor.schema.context)).features[views].scale(8))
        // Without context: none.
        #expect(try #require(try self.extractor().example(for: observed)).context.isEmpty)
    }
}
