import Foundation
import Testing
import VeilCore
@testable import VeilLearning

@Suite struct FeatureExtractorTests {
    private let day = FeatureWindow.millisPerDay
    private let pid = Pseudonym(high: 1, low: 2)
    // 2026-01-01T00:00:00Z (a Thursday), as Unix milliseconds.
    private let start: Int64 = 1_767_225_600_000

    private func event(
        _ type: EventType, day offset: Double, category: String? = nil, price: Double? = nil, quantity: Int? = nil,
        session: Pseudonym? = nil
    ) -> StoredEvent {
        StoredEvent(
            eventID: "e\(offset)\(type)", pseudonym: pid, epoch: 1, type: type,
            timestampMillis: start + Int64(offset * Double(day)), session: session, category: category, price: price,
            quantity: quantity)
    }

    private func extractor(policy: Policy = Policy()) -> FeatureExtractor {
        FeatureExtractor(
            schema: FeatureSchema(policy: policy),
            window: FeatureWindow(observationStart: nil, cutoff: start + 30 * day, horizonEnd: start + 44 * day))
    }

    private func value(_ name: String, in example: UserExample, schema: FeatureSchema) throws -> Double {
        example.features[try #require(schema.names.firstIndex(of: name))]
    }

    @Test func featuresAreScaledByPolicyBoundsIntoUnitInterval() throws {
        var policy = Policy()
        policy.features.maxSpend = 100
        let extractor = extractor(policy: policy)
        let events = [
            event(.view, day: 1, category: "books"), event(.addToCart, day: 1.1, category: "books"),
            event(.purchase, day: 1.2, category: "books", price: 80, quantity: 2),
            event(.view, day: 25, category: "toys"),
        ]
        let example = try #require(extractor.example(for: events))
        let schema = extractor.schema
        #expect(example.features.count == schema.features.count)
        #expect(example.features.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(try value("spend", in: example, schema: schema) == 1)  // 160 clamped to the bound 100
        #expect(try value("view_to_cart_ratio", in: example, schema: schema) == 0.5)
        #expect(try value("cart_to_purchase_ratio", in: example, schema: schema) == 1)
        #expect(try value("share_category_books", in: example, schema: schema) == 0.75)
        #expect(abs(try value("days_since_last_event", in: example, schema: schema) - 5.0 / 365) < 1e-12)
        #expect(abs(try value("tenure_days", in: example, schema: schema) - 29.0 / 365) < 1e-12)
    }

    /// `distinct_items` counts item IDs by their bytes, as the stores tell items apart: "café" precomposed
    /// and decomposed are two items (Swift's `String ==` counted them as one before), the same ID twice one.
    @Test func distinctItemsAreDistinctBytes() throws {
        func distinctItems(_ items: [String]) throws -> Double {
            let events = items.enumerated().map { index, item in
                StoredEvent(
                    eventID: "e\(index)", pseudonym: pid, epoch: 1, type: .view, timestampMillis: start + Int64(index + 1) * day,
                    itemID: item)
            }
            return try value("distinct_items", in: try #require(extractor().example(for: events)), schema: extractor().schema)
        }
        let twins = try distinctItems(["caf\u{E9}", "cafe\u{301}"])
        #expect(twins == (try distinctItems(["caf\u{E9}", "tea"])))
        #expect(twins > (try distinctItems(["caf\u{E9}", "caf\u{E9}"])))
    }

    /// A category is its bytes: an event whose category is the canonical twin of a policy category
    /// ("café" decomposed, the policy's precomposed) is not in it, as the stores' filters and the
    /// queries see it (Swift's `String ==` put it there before).
    @Test func aCategorysTwinIsAnotherCategory() throws {
        var policy = Policy()
        policy.categories = ["caf\u{E9}", "books"]
        let example = try #require(
            extractor(policy: policy).example(for: [event(.view, day: 1, category: "cafe\u{301}"), event(.view, day: 2, category: "books")]))
        let schema = extractor(policy: policy).schema
        #expect(try value("share_category_caf\u{E9}", in: example, schema: schema) == 0)
        #expect(try value("share_category_books", in: example, schema: schema) == 1)  // of the policy's categories
    }

    /// A session weighs 1 whatever its length, split among its categories as its events are; a
    /// categorised event without a session weighs 1 alone; a session without categorised events counts
    /// for nothing. By hand: session A (3 books, 1 toys) gives books 0.75 and toys 0.25, session B (1
    /// toys) toys 1, the unsessioned books event books 1, session C (a search) nothing: 3 visits.
    @Test func sessionSharesCountVisitsNotClicks() throws {
        let (a, b, c) = (Pseudonym(high: 9, low: 1), Pseudonym(high: 9, low: 2), Pseudonym(high: 9, low: 3))
        let events = [
            event(.view, day: 1, category: "books", session: a), event(.click, day: 1.01, category: "books", session: a),
            event(.view, day: 1.02, category: "books", session: a), event(.view, day: 1.03, category: "toys", session: a),
            event(.view, day: 2, category: "toys", session: b), event(.view, day: 3, category: "books"),
            event(.search, day: 4, session: c),
        ]
        let extractor = extractor()
        let example = try #require(extractor.example(for: events.reversed()))  // any order
        let schema = extractor.schema
        #expect(abs(try value("session_share_category_books", in: example, schema: schema) - 1.75 / 3) < 1e-12)
        #expect(abs(try value("session_share_category_toys", in: example, schema: schema) - 1.25 / 3) < 1e-12)
        #expect(try value("session_share_category_home", in: example, schema: schema) == 0)
        #expect(try value("share_category_books", in: example, schema: schema) == 4.0 / 6)  // clicks, not visits
        let total = try schema.categories.reduce(0.0) { $0 + (try value(FeatureSchema.sessionCategoryShare($1), in: example, schema: schema)) }
        #expect(abs(total - 1) < 1e-12)
        #expect(try value("distinct_sessions", in: example, schema: schema) == FeatureSchema.Feature(name: "", upper: 100, scaling: .logCount).scale(3))
    }

    /// A model's schema is the features of the build that trained it, in its order: one trained before
    /// the session shares (its features, here also reordered) gets exactly those, each the value
    /// today's schema gives it under the same name.
    @Test func anOlderModelsSchemaIsComputedByName() throws {
        let session = Pseudonym(high: 9, low: 1)
        let events = [
            event(.view, day: 1, category: "books", session: session), event(.purchase, day: 2, category: "toys", price: 12, quantity: 1),
        ]
        let current = extractor()
        var older = current.schema
        older.features = older.features.filter { !$0.name.hasPrefix("session_share_") }.reversed()
        let olderCount = current.schema.features.count - current.schema.categories.count
        #expect(older.features.count == olderCount)
        let olderExtractor = FeatureExtractor(schema: older, window: current.window)
        let full = try #require(current.example(for: events))
        let old = try #require(olderExtractor.example(for: events))
        #expect(old.features.count == olderCount)
        for (index, name) in older.names.enumerated() {
            #expect(old.features[index] == (try value(name, in: full, schema: current.schema)))
        }
    }

    /// A schema decoded from a model file that names a feature this build does not compute (a newer
    /// build's model) is refused when it is decoded, naming the field and echoing nothing of it.
    @Test func aSchemaNamingAFeatureThisBuildLacksIsRefused() throws {
        var schema = FeatureSchema(policy: Policy())
        let encoder = JSONEncoder()
        #expect((try JSONDecoder().decode(FeatureSchema.self, from: encoder.encode(schema))) == schema)
        schema.features.append(FeatureSchema.Feature(name: "share_tomorrow_zq", upper: 1, scaling: .unit))
        let data = try encoder.encode(schema)
        let error = try #require(throws: VeilError.self) { try JSONDecoder().decode(FeatureSchema.self, from: data) }
        #expect(error.field == "features")
        #expect(!error.message.contains("zq"))
    }

    @Test func neverPurchasedIsTheFarEndOfTheRecencyBound() throws {
        let example = try #require(extractor().example(for: [event(.view, day: 3)]))
        #expect(try value("days_since_last_purchase", in: example, schema: extractor().schema) == 1)
    }

    @Test func labelsComeFromTheHorizonOnly() throws {
        let extractor = extractor()
        let quiet = try #require(extractor.example(for: [event(.purchase, day: 2, category: "home", price: 5, quantity: 1)]))
        #expect(quiet.outcome == Outcome(purchased: false, churned: true, nextCategory: nil))
        let buyer = try #require(
            extractor.example(for: [
                event(.view, day: 2), event(.purchase, day: 40, category: "toys", price: 1, quantity: 1),
                event(.purchase, day: 35, category: "books", price: 1, quantity: 1),
                event(.purchase, day: 50, category: "home", price: 1, quantity: 1),  // after the horizon
            ]))
        #expect(buyer.outcome.purchased && !buyer.outcome.churned)
        #expect(buyer.outcome.nextCategory == Policy().categories.firstIndex(of: "books"))
        let active = try #require(extractor.example(for: [event(.view, day: 2), event(.view, day: 31)]))
        #expect(!active.outcome.churned && !active.outcome.purchased)
        #expect(active.outcome.label(for: .nextCategory) == nil)
    }

    @Test func horizonEventsDoNotLeakIntoFeatures() throws {
        let extractor = extractor()
        let before = try #require(extractor.example(for: [event(.view, day: 2)]))
        let with = try #require(extractor.example(for: [event(.view, day: 2), event(.purchase, day: 31, price: 900, quantity: 3)]))
        #expect(before.features == with.features)
    }

    @Test func userWithoutObservedEventsHasNoExample() {
        #expect(extractor().example(for: [event(.view, day: 35)]) == nil)
        #expect(extractor().example(for: [StoredEvent]()) == nil)
    }

    @Test func weekendAndTimeOfDayShares() throws {
        // Day 2 after Thursday 2026-01-01 is Saturday; 0.75 day is 18:00 (evening).
        let example = try #require(extractor().example(for: [event(.view, day: 2.75), event(.view, day: 0.25)]))
        let schema = extractor().schema
        #expect(try value("share_weekend", in: example, schema: schema) == 0.5)
        #expect(try value("share_evening", in: example, schema: schema) == 0.5)
        #expect(try value("share_morning", in: example, schema: schema) == 0.5)
    }
}
