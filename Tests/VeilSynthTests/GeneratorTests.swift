import Foundation
import Testing
@testable import VeilSynth

@Suite struct GeneratorTests {
    static let small = Shared.configuration

    @Test func sameSeedSameBytesOtherSeedOtherBytes() async throws {
        let (first, summary) = try await generateBytes(Self.small)
        let (second, _) = try await generateBytes(Self.small)
        #expect(!first.isEmpty)
        #expect(first == second)
        var other = Self.small
        other.seed = 8
        let (third, _) = try await generateBytes(other)
        #expect(third != first)
        #expect(summary.events == lines(first).count)
        #expect(summary.users == 200)
        #expect(first == Shared.dataset.bytes && summary == Shared.dataset.summary, "serial and parallel runs agree")
    }

    @Test func usersAreIndependentOfEachOtherAndOfParallelism() async throws {
        let shoppers = SyntheticShoppers(Self.small)
        let (all, _) = try await generateBytes(Self.small)
        let serial = (0..<Self.small.users).flatMap { shoppers.events(ofUser: $0) }
        #expect(serial == all)
        var fewer = Self.small
        fewer.users = 40
        let (prefix, _) = try await generateBytes(fewer)
        #expect(Array(all.prefix(prefix.count)) == prefix)
    }

    @Test func everyLineParsesWithValidFields() throws {
        let config = Self.small
        let events = Shared.dataset.events
        let startSeconds = epochSeconds(config.start)
        let endSeconds = epochSeconds(config.start.adding(days: config.days))
        let allowedKeys: Set = [
            "event_id", "user_id", "type", "timestamp", "session_id", "item_id", "category", "price", "quantity",
            "rating", "query",
        ]
        let priceText = try Regex(#""price":[0-9]+\.[0-9]{2}[,}]"#)
        let userPattern = try Regex(#"^user-[0-9]{6}$"#)
        var eventIDs = Set<String>()
        var lastTime: [String: Int] = [:]
        var types = Set<String>()
        for event in events {
            let object = event.object
            #expect(Set(object.keys).isSubset(of: allowedKeys), "\(event.raw)")
            let id = try #require(object["event_id"] as? String)
            #expect(eventIDs.insert(id).inserted, "duplicate event_id \(id)")
            #expect(event.user.wholeMatch(of: userPattern) != nil)
            #expect(ShopperCatalog.eventTypes.contains(event.type))
            types.insert(event.type)
            #expect(event.time >= startSeconds && event.time < endSeconds, "\(event.raw)")
            #expect(event.time >= lastTime[event.user, default: 0], "per-user order: \(event.raw)")
            lastTime[event.user] = event.time
            #expect(object["session_id"] is String)
            if let category = object["category"] {
                #expect(ShopperCatalog.categories.contains(category as? String ?? ""))
            }
            if let price = object["price"] {
                let value = try #require((price as? NSNumber)?.doubleValue)
                #expect(value >= 0)
                #expect(event.raw.contains(priceText))
            }
            if let quantity = object["quantity"] {
                let value = try #require((quantity as? NSNumber)?.doubleValue)
                #expect(value >= 1 && value == value.rounded())
                #expect(!event.raw.contains(#""quantity":\#(Int(value))."#))
            }
            if let rating = object["rating"] {
                #expect(event.type == "review")
                let value = try #require((rating as? NSNumber)?.doubleValue)
                #expect([1.0, 2, 3, 4, 5].contains(value))
            }
            #expect((object["query"] != nil) == (event.type == "search"))
            if let query = object["query"] as? String { #expect(!query.isEmpty) }
            switch event.type {
            case "view", "add_to_cart", "remove_from_cart", "purchase", "return":
                #expect(object["item_id"] is String && object["category"] is String && object["price"] != nil)
            case "click", "review":
                #expect(object["item_id"] is String && object["category"] is String)
            default:
                break
            }
            if ["add_to_cart", "remove_from_cart", "purchase", "return"].contains(event.type) {
                #expect(object["quantity"] != nil)
            }
            if event.type == "review" { #expect(object["rating"] != nil) }
        }
        #expect(types == Set(ShopperCatalog.eventTypes), "every event type occurs")
    }

    @Test func funnelIsConsistent() throws {
        let (events, summary) = (Shared.dataset.events, Shared.dataset.summary)
        var sessionTypes: [String: [String]] = [:]
        var sessionDays: [String: Set<Int>] = [:]
        var purchased: [String: [String: Int]] = [:]  // user → item → time of its first purchase
        var checkouts = 0
        var purchaseSessions = Set<String>()
        for event in events {
            sessionTypes[event.session, default: []].append(event.type)
            sessionDays[event.session, default: []].insert(event.day)
            switch event.type {
            case "checkout":
                checkouts += 1
            case "purchase":
                #expect(sessionTypes[event.session]!.contains("checkout"), "purchase after checkout in its session")
                purchaseSessions.insert(event.session)
                if purchased[event.user]?[event.item!] == nil { purchased[event.user, default: [:]][event.item!] = event.time }
            case "return", "review":
                let bought = try #require(purchased[event.user]?[event.item!], "\(event.type) of an item never bought")
                #expect(event.time >= bought + 86400, "\(event.type) at least a day after the purchase")
            default:
                break
            }
        }
        #expect(purchaseSessions.count <= checkouts)
        #expect(purchaseSessions.count == summary.orders)
        #expect(summary.returns > 0 && summary.reviews > 0)
        for (session, types) in sessionTypes {
            #expect(types.contains("view"), "every session views an item")
            if types.contains("checkout") { #expect(types.contains("add_to_cart"), "\(session)") }
        }
        #expect(sessionDays.values.allSatisfy { $0.count == 1 }, "no session crosses midnight UTC")
    }

    @Test func summaryLabelTalliesMatchTheEvents() throws {
        let config = Self.small
        let labels = try #require(Shared.dataset.summary.labels)
        let cutoff = config.start.daysSinceEpoch + 26
        var before = Set<String>()
        var inHorizon = Set<String>()
        var bought = Set<String>()
        for event in Shared.dataset.events {
            if event.day < cutoff { before.insert(event.user) }
            if event.day >= cutoff && event.day < cutoff + 14 {
                inHorizon.insert(event.user)
                if event.type == "purchase" { bought.insert(event.user) }
            }
        }
        #expect(labels.usersSeenBeforeCutoff == before.count)
        #expect(labels.purchaseLabelPositives == bought.intersection(before).count)
        #expect(labels.churnLabelPositives == before.subtracting(inHorizon).count)
        #expect(labels.cutoff == "2026-01-27")
        #expect(labels.usersSeenBeforeCutoff > 150 && labels.purchaseLabelPositives > 0 && labels.churnLabelPositives > 0)
    }

    /// Users with higher latent propensity buy more. Fixed seed; 3,000 users over 60 days.
    /// Tolerances: the top propensity tercile converts at least 2.5× as many sessions as the bottom one
    /// (the model gives about 4.5×), and each tercile's session conversion is within 12% (relative) of the
    /// model's mean π for that tercile.
    @Test func higherPropensityPurchasesMore() async throws {
        let config = SynthConfiguration(users: 3000, days: 60, seed: 11)
        let shoppers = SyntheticShoppers(config)
        var sessions = [Int](repeating: 0, count: 3)
        var orders = [Int](repeating: 0, count: 3)
        var expected = [Double](repeating: 0, count: 3)
        let traits = (0..<config.users).map { shoppers.traits(ofUser: $0) }
        let sorted = traits.map(\.propensity).sorted()
        let cuts = [sorted[config.users / 3], sorted[2 * config.users / 3]]
        for user in 0..<config.users {
            let tercile = traits[user].propensity < cuts[0] ? 0 : traits[user].propensity < cuts[1] ? 1 : 2
            var buffer = ByteBuffer()
            var scratch = UserScratch()
            let tally = shoppers.writeUser(user, into: &buffer, scratch: &scratch, cutoffDay: nil)
            sessions[tercile] += tally.sessions
            orders[tercile] += tally.orders
            expected[tercile] += Double(tally.sessions)
                * traits[user].purchaseProbabilityPerSession(continueViewing: config.model.continueViewing)
        }
        let conversion = (0..<3).map { Double(orders[$0]) / Double(sessions[$0]) }
        #expect(conversion[0] < conversion[1] && conversion[1] < conversion[2])
        #expect(conversion[2] >= 2.5 * conversion[0], "\(conversion)")
        for tercile in 0..<3 {
            let model = expected[tercile] / Double(sessions[tercile])
            #expect(abs(conversion[tercile] - model) <= 0.12 * model, "tercile \(tercile): \(conversion[tercile]) vs \(model)")
        }
        #expect(orders[2] > 3 * orders[0], "more purchases per user, not only per session")
    }
}
