import Foundation

/// Per-user working storage, reused across users so the hot loop does not allocate.
struct UserScratch {
    /// `{"event_id":"s<seed>-u<index>-e`
    var head: [UInt8] = []
    /// `","user_id":"user-000123","type":"`
    var userPart: [UInt8] = []
    /// `","session_id":"s<seed>-u<index>-s`
    var sessionPart: [UInt8] = []
    var cart: [CartLine] = []
    var pending: [PendingAction] = []
    var affinityCumulative: [Double] = []
    var memory = ShopperMemory()
    /// The memory when the first session on or after the cutoff day began (or at the end, if none did):
    /// what the next-item truth is computed from. Taken only when `writeUser` is given a cutoff.
    var memoryAtCutoff = ShopperMemory()
}

struct CartLine {
    var item: Int
    var quantity: Int
}

/// A return or review scheduled by a purchase, done in the first session in its window.
struct PendingAction {
    var isReturn: Bool
    var item: Int
    var quantity: Int
    var rating: Int
    var due: Int
    var expires: Int
}

extension SyntheticShoppers {
    /// Writes user `index`'s events (timestamp order) into `buffer` and returns the user's counts.
    ///
    /// Sessions form a Poisson process with intensity r · w(weekday) · 24·v(hour) per day, cut off at the
    /// churn time; they are drawn by time rescaling (unit exponential steps in cumulative intensity).
    /// A session never crosses midnight UTC, so "an event on day d" is "a session starting on day d".
    /// With a `cutoffDay`, the tally records the labels' horizon and `scratch.memoryAtCutoff` receives the
    /// shopper's memory as the first session on or after the cutoff began.
    func writeUser(_ index: Int, into buffer: inout ByteBuffer, scratch: inout UserScratch, cutoffDay: Int?) -> UserTally {
        let model = configuration.model
        let days = configuration.days
        let traits = traits(ofUser: index)
        var random = ShopperRandom(rootKey: rootKey, user: UInt64(index), purpose: 1)
        var tally = UserTally()
        tally.churned = traits.churnDay < Double(days)

        prepare(&scratch, index: index, traits: traits)
        scratch.cart.removeAll(keepingCapacity: true)
        scratch.pending.removeAll(keepingCapacity: true)
        // The memory is used in the hot loop: a local, not a field of the captured `scratch`.
        var memory = ShopperMemory()
        swap(&memory, &scratch.memory)
        memory.removeAll()
        defer { swap(&memory, &scratch.memory) }
        var memoryTaken = false

        let rate = traits.sessionsPerDay
        let churnSeconds = traits.churnDay * 86400
        let gapMean = model.meanEventGapSeconds - 3
        let lastCategory = ShopperCatalog.categories.count - 1
        var eventNo = 0
        var sessionNo = 0
        var day = 0
        var massUsed = 0.0
        var lastTime = 0
        var weekly = weeklyActivity(ofUser: index)
        weekly.advance(to: 0)
        var dayMass = rate * dayWeights[0] * weekly.multiplier

        sessions: while true {
            // Next session start: walk `need` units of cumulative intensity forward.
            var need = random.exponential()
            while true {
                let left = dayMass - massUsed
                if need < left {
                    massUsed += need
                    break
                }
                need -= left
                day += 1
                massUsed = 0
                if day >= days { break sessions }
                weekly.advance(to: day / 7)
                dayMass = rate * dayWeights[day] * weekly.multiplier
            }
            let fraction = massUsed / dayMass
            var hour = 0
            while hour < lastHour && hourCumulative[hour + 1] <= fraction { hour += 1 }
            let within = min(max((fraction - hourCumulative[hour]) / hourWeights[hour], 0), 0.9999)
            let secondOfDay = hour * 3600 + Int(within * 3600)
            if Double(day) * 86400 + Double(hour) * 3600 + within * 3600 >= churnSeconds { break sessions }
            var inHorizon = false
            if let cutoffDay, day < cutoffDay { tally.history.add(day: day, share: fraction) }
            if let cutoffDay, day >= cutoffDay {
                if !memoryTaken {
                    scratch.memoryAtCutoff.copy(memory)
                    memoryTaken = true
                }
                inHorizon = day < cutoffDay + configuration.labelHorizonDays
            }

            let dayStart = day * 86400
            let dayEnd = dayStart + 86399
            let start = min(max(dayStart + secondOfDay, lastTime), dayEnd)
            let limit = min(start + model.maxSessionSeconds, dayEnd)
            var clock = start
            var time = start
            sessionNo += 1
            tally.sessions += 1

            @inline(__always) func advance() {
                clock += 3 + Int(random.exponential() * gapMean)
                time = min(clock, limit)
            }
            @inline(__always) func head(_ type: StaticString) {
                buffer.reserve(512)
                eventNo += 1
                tally.events += 1
                buffer.bytes(scratch.head)
                buffer.decimal(eventNo)
                buffer.bytes(scratch.userPart)
                buffer.bytes(type)
                buffer.bytes("\",\"timestamp\":\"")
                dayPrefixes.withUnsafeBufferPointer { prefixes in
                    buffer.bytes(UnsafeBufferPointer(rebasing: prefixes[(day * 11)..<(day * 11 + 11)]))
                }
                let second = time - dayStart
                buffer.twoDigits(second / 3600)
                buffer.byte(UInt8(ascii: ":"))
                buffer.twoDigits(second / 60 % 60)
                buffer.byte(UInt8(ascii: ":"))
                buffer.twoDigits(second % 60)
                buffer.byte(UInt8(ascii: "Z"))
                buffer.bytes(scratch.sessionPart)
                buffer.decimal(sessionNo)
                buffer.byte(UInt8(ascii: "\""))
            }
            @inline(__always) func item(_ item: Int, price: Bool) {
                buffer.bytes(",\"item_id\":\"")
                buffer.itemID(item)
                buffer.bytes("\",\"category\":\"")
                buffer.bytes(categoryNames[ItemCatalog.category(of: item)])
                buffer.byte(UInt8(ascii: "\""))
                if price {
                    buffer.bytes(",\"price\":")
                    buffer.money(cents: catalog.priceCents[item])
                }
            }
            @inline(__always) func quantity(_ value: Int) {
                buffer.bytes(",\"quantity\":")
                buffer.decimal(value)
            }
            @inline(__always) func end() { buffer.bytes("}\n") }
            @inline(__always) func affinityCategory() -> Int {
                let u = random.uniform()
                var category = 0
                while category < lastCategory && scratch.affinityCumulative[category] <= u { category += 1 }
                return category
            }

            // Returns and reviews that have come due.
            if !scratch.pending.isEmpty {
                var keep = 0
                for position in scratch.pending.indices {
                    let action = scratch.pending[position]
                    if action.due > start {
                        scratch.pending[keep] = action
                        keep += 1
                    } else if start <= action.expires {
                        if action.isReturn {
                            head("return")
                            item(action.item, price: true)
                            quantity(action.quantity)
                            tally.returns += 1
                        } else {
                            head("review")
                            item(action.item, price: false)
                            buffer.bytes(",\"rating\":")
                            buffer.decimal(action.rating)
                            tally.reviews += 1
                        }
                        end()
                        advance()
                    }
                }
                scratch.pending.removeLast(scratch.pending.count - keep)
            }

            // Browsing: an optional search, then V ≥ 1 item views with cart decisions.
            let focus = affinityCategory()
            let searched = random.chance(model.searchProbability)
            if searched {
                head("search")
                let options = queries[focus]
                buffer.bytes(",\"query\":\"")
                buffer.bytes(options[random.below(options.count)])
                buffer.byte(UInt8(ascii: "\""))
                end()
                advance()
            }
            scratch.cart.removeAll(keepingCapacity: true)
            var previous = -1
            repeat {
                let category = random.chance(model.sessionFocus) ? focus : affinityCategory()
                let viewed = chooseItem(category: category, previous: previous, memory: memory, random: &random)
                memory.viewed(viewed, rule: rule)
                previous = viewed
                if inHorizon && tally.firstViewInHorizon < 0 { tally.firstViewInHorizon = viewed }
                if searched {
                    head("click")
                    item(viewed, price: false)
                    end()
                    advance()
                }
                head("view")
                item(viewed, price: true)
                end()
                if random.chance(traits.addToCartProbability) {
                    var count = 1
                    while random.chance(model.extraQuantity) { count += 1 }
                    advance()
                    head("add_to_cart")
                    item(viewed, price: true)
                    quantity(count)
                    end()
                    scratch.cart.append(CartLine(item: viewed, quantity: count))
                    if scratch.cart.count >= 2 && random.chance(model.removeProbability) {
                        let removed = scratch.cart.remove(at: random.below(scratch.cart.count - 1))
                        advance()
                        head("remove_from_cart")
                        item(removed.item, price: true)
                        quantity(removed.quantity)
                        end()
                    }
                }
                advance()
            } while random.chance(model.continueViewing)

            // Checkout and purchase.
            var purchased = false
            if !scratch.cart.isEmpty && random.chance(traits.checkoutProbability) {
                head("checkout")
                end()
                if random.chance(traits.paymentProbability) {
                    purchased = true
                    tally.orders += 1
                    for line in scratch.cart {
                        advance()
                        head("purchase")
                        item(line.item, price: true)
                        quantity(line.quantity)
                        end()
                        tally.purchases += 1
                        memory.bought(line.item, role: catalog.role[line.item], rule: rule)
                        let category = ItemCatalog.category(of: line.item)
                        let returned = random.chance(model.returnProbability[category])
                        if returned {
                            scratch.pending.append(PendingAction(
                                isReturn: true, item: line.item, quantity: line.quantity, rating: 0,
                                due: time + model.returnWindowDays.earliest * 86400,
                                expires: time + model.returnWindowDays.latest * 86400))
                        }
                        let review = returned ? model.reviewProbability.returned : model.reviewProbability.kept
                        if random.chance(review) {
                            scratch.pending.append(PendingAction(
                                isReturn: false, item: line.item, quantity: line.quantity,
                                rating: Self.rating(returned: returned, random: &random),
                                due: time + model.reviewWindowDays.earliest * 86400,
                                expires: time + model.reviewWindowDays.latest * 86400))
                        }
                    }
                }
            }
            lastTime = time

            if let cutoffDay {
                if day < cutoffDay {
                    tally.seenBeforeCutoff = true
                } else if inHorizon {
                    tally.eventInHorizon = true
                    if purchased { tally.purchaseInHorizon = true }
                }
            }
        }
        if cutoffDay != nil && !memoryTaken { scratch.memoryAtCutoff.copy(memory) }
        return tally
    }

    static let ratingCumulativeReturned = [0.45, 0.75, 0.90, 0.97]
    static let ratingCumulativeKept = [0.03, 0.08, 0.20, 0.55]

    /// Star rating for a review: returned items skew low, kept items high.
    static func rating(returned: Bool, random: inout ShopperRandom) -> Int {
        // P(1…5): returned (.45, .30, .15, .07, .03), kept (.03, .05, .12, .35, .45).
        let cumulative = returned ? ratingCumulativeReturned : ratingCumulativeKept
        let u = random.uniform()
        var stars = 1
        while stars <= 4 && cumulative[stars - 1] <= u { stars += 1 }
        return stars
    }

    private func prepare(_ scratch: inout UserScratch, index: Int, traits: ShopperTraits) {
        let stem = Array("s\(seedText)-u\(index)-".utf8)
        scratch.head = Array("{\"event_id\":\"".utf8) + stem + [UInt8(ascii: "e")]
        scratch.userPart = Array("\",\"user_id\":\"\(userID(index))\",\"type\":\"".utf8)
        scratch.sessionPart = Array("\",\"session_id\":\"".utf8) + stem + [UInt8(ascii: "s")]
        scratch.affinityCumulative.removeAll(keepingCapacity: true)
        var total = 0.0
        for share in traits.affinity {
            total += share
            scratch.affinityCumulative.append(total)
        }
    }
}
