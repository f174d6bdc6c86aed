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
        length: Int = 50, cutoffSecond: Int64 = 100_000, observationStart: Int64? = nil, context: Bool = false,
        marker: [Double]? = nil, horizonSeconds: Int64 = 86_400
    ) throws -> SequenceExtractor {
        var policy = Policy()
        policy.sequences.length = length
        policy.sequences.gapBoundsSeconds = [60, 3600]
        policy.sequences.priceBounds = [10, 100]
        policy.categories = ["books", "toys"]
        var schema = SequenceSchema(policy: policy, vocabulary: try ItemVocabulary(items: ["i1", "i2", "i3"]))
        if context { schema.context = FeatureSchema(policy: policy) }
        schema.timeToCutoffBoundsSeconds = marker
        return SequenceExtractor(
            schema: schema,
            window: FeatureWindow(
                observationStart: observationStart.map { start + $0 * 1000 }, cutoff: start + cutoffSecond * 1000,
                horizonEnd: start + (cutoffSecond + horizonSeconds) * 1000))
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

    /// Events at the same time are read by item, then type, then event ID — not by event ID first:
    /// an event imported without one is named by a keyed digest, which would order ties differently in
    /// every installation. Here the event IDs run against the items (before: [3, 2, 1]), and the horizon's
    /// first item is chosen among ties by the same rule.
    @Test func tiesInTimeAreOrderedByItemThenTypeThenEventIDWhateverTheInputOrder() throws {
        let events = [
            event("a", .view, second: 5, item: "i2"), event("b", .view, second: 5, item: "i1"),
            event("c", .view, second: 1, item: "i3"),
            event("d", .purchase, second: 7, item: "i1"), event("e", .view, second: 7, item: "i1"),
            event("f", .view, second: 100_010, item: "i3"), event("g", .view, second: 100_010, item: "i2"),
        ]
        let first = try #require(try extractor().example(for: events))
        let second = try #require(try extractor().example(for: events.reversed()))
        #expect(first == second)
        #expect(first.tokens.enumerated().filter { $0.offset % fields == 1 }.map(\.element) == [3, 1, 2, 1, 1])
        #expect(first.tokens.enumerated().filter { $0.offset % fields == 0 }.map(\.element).suffix(2)
            == [Int32(EventType.view.index), Int32(EventType.purchase.index)])
        #expect(first.outcome.nextItem == "i2")
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

    /// Item IDs are their bytes, as the stores compare them: "café" with a precomposed é and with e + a
    /// combining accent are two items (Swift's `String ==` would take them for one: the second was
    /// refused as a repeat, and mapped to the first's index, before the vocabulary keyed by bytes).
    @Test func vocabularyItemsAreTheirBytes() throws {
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(composed == decomposed)  // what String's == says
        let both = try ItemVocabulary(items: [composed, decomposed])
        #expect(both.count == 2 && both.index(of: composed) == 0 && both.index(of: decomposed) == 1)
        let one = try ItemVocabulary(items: [composed])
        #expect(one.index(of: decomposed) == one.otherIndex)
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

    /// The cutoff marker: one row after the kept events — type one past the event types, no item,
    /// category or price, and as gap the bucket of the time from the last event to the cutoff under the
    /// marker's own bounds, in gap tokens after the event gaps'. A time exactly at a bound falls in that
    /// bound's bucket, one past the last bound in one more; every token is inside its table.
    @Test func theCutoffMarkerEndsTheSequenceWithTheBucketedTimeToTheCutoff() throws {
        let observed = (0..<8).map { event("e\($0)", .view, second: Int64($0) * 10, item: "i3") }  // the last at 70 s
        // Event gaps are tokens 0...3 (first, ≤ 60 s, ≤ 3600 s, longer); the marker's 4 (≤ 600 s), 5 (≤ 1 day), 6.
        let cases: [(cutoff: Int64, gap: Int32)] = [
            (71, 4), (70 + 600, 4), (70 + 601, 5), (70 + 86_400, 5), (70 + 86_401, 6), (10_000_000, 6),
        ]
        for (cutoff, gap) in cases {
            let extractor = try extractor(length: 5, cutoffSecond: cutoff, marker: [600, 86_400])
            let example = try #require(extractor.example(for: observed.shuffled()))
            #expect(example.length == 6)
            #expect(tokens(example, 5) == [SequenceSchema.cutoffMarkerType, 0, 0, gap, 0], "cutoff \(cutoff)")
            // The events before it are encoded as without a marker.
            let plain = try #require(try self.extractor(length: 5, cutoffSecond: cutoff).example(for: observed))
            #expect(Array(example.tokens.prefix(5 * fields)) == plain.tokens)
            let schema = extractor.schema
            #expect(schema.tokenCount(.type) == EventType.allCases.count + 1)
            #expect(schema.tokenCount(.gap) == 4 + 3)
            #expect(schema.tokenCounts == SequenceSchema.Field.allCases.map(schema.tokenCount))
            for field in SequenceSchema.Field.allCases {
                #expect(Int(tokens(example, 5)[field.rawValue]) < schema.tokenCount(field), "\(field)")
            }
            // A dataset accepts the tokens, and a label sits on the marker, the last row.
            let data = try SequenceDataset(examples: [example], schema: schema, classCount: 2) {
                PredictionTask.purchase.definition.targets($0, schema: schema)
            }
            #expect(data.targets == [-1, -1, -1, -1, -1, 0])
        }
        // A schema without marker bounds (next_item, files from before it): no marker row.
        #expect(try #require(try extractor(length: 5).example(for: observed)).length == 5)
        #expect(try extractor().schema.tokenCount(.type) == EventType.allCases.count)
    }

    /// Serving reads a sequence as training does: the same extractor, with the prediction's time as
    /// the cutoff (`PredictionService`'s window ends there). At the same cutoff, the training window
    /// (with a horizon and events in it) and the serving window (no horizon) give the same tokens,
    /// marker and context; only the outcome differs.
    @Test func servingReadsTheSequenceAsTrainingDidAtTheSameCutoff() throws {
        let observed = [
            event("a", .view, second: 0, item: "i1", category: "books", price: 12),
            event("b", .addToCart, second: 4_000, item: "i1", category: "books", price: 12),
            event("c", .search, second: 90_000),
        ]
        let horizon = [event("h", .purchase, second: 150_000, item: "i2", category: "toys", price: 50)]
        let training = try extractor(cutoffSecond: 100_000, context: true, marker: [600, 86_400])
        let serving = try extractor(cutoffSecond: 100_000, context: true, marker: [600, 86_400], horizonSeconds: 0)
        let trained = try #require(training.example(for: observed + horizon))
        let served = try #require(serving.example(for: observed))
        #expect(trained.tokens == served.tokens)
        #expect(trained.context == served.context)
        #expect(tokens(trained, 3) == [SequenceSchema.cutoffMarkerType, 0, 0, 5, 0])  // 10,000 s: ≤ 1 day
        #expect(trained.outcome.purchased && !served.outcome.purchased)
    }
}
