import Foundation

/// The fixed vocabulary of synthetic shopper data (and of Veil's default policy): product categories
/// and event types, with their exact wire spellings.
public enum ShopperCatalog {
    /// The product categories, in a fixed order (index = category index everywhere in VeilSynth).
    public static let categories: [String] = [
        "electronics", "fashion", "home", "beauty", "sports", "books", "toys", "grocery",
    ]

    /// The event types the generator emits.
    public static let eventTypes: [String] = [
        "view", "search", "click", "add_to_cart", "remove_from_cart", "checkout", "purchase", "return", "review",
    ]

    /// Catalogue items per category; item IDs are `item-KNNNN`, K the category index, NNNN in 0..<itemsPerCategory.
    public static let itemsPerCategory = 1000

    /// Items per product line (related items: a session's walk stays in a line, a main item's accessories
    /// are in its line).
    public static let itemsPerLine = 10

    /// Main items in each durable product line (its first positions); the rest of the line are accessories.
    public static let mainsPerLine = 3

    /// Catalogue items in all: categories × itemsPerCategory; item index `k·itemsPerCategory + j` is `item-KNNNN`.
    public static var itemCount: Int { categories.count * itemsPerCategory }
}

/// The parameters of the generative shopper model. `docs/synthetic-data.md` gives the formulas;
/// every field below names the symbol used there.
public struct ShopperModel: Sendable {
    // Latent traits.
    /// Correlation ρ between the activity trait z_a and the propensity trait z_p.
    public var activityPropensityCorrelation = 0.35
    /// Median sessions per day r₀ (r = r₀·exp(σ_r·z_a)).
    public var medianSessionsPerDay = 0.12
    /// σ_r: spread of log session rate.
    public var sessionRateSpread = 0.75
    /// Shape k of the weekly activity multiplier m_w ~ Gamma(k, 1/k) (mean 1, variance 1/k): each user has
    /// busier and quieter weeks. `.infinity` turns weekly variation off.
    public var weeklyActivityShape = 1.0
    /// Upper bound on the session rate (sessions/day).
    public var maxSessionsPerDay = 6.0
    /// Median churn hazard h₀ per day (log h = log h₀ + β_a·z_a + β_p·z_p + σ_h·ε).
    public var medianChurnHazardPerDay = 1.0 / 450
    /// β_a: effect of activity on log hazard (negative: engaged users stay).
    public var churnActivityEffect = -0.45
    /// β_p: effect of propensity on log hazard.
    public var churnPropensityEffect = -0.3
    /// σ_h: idiosyncratic spread of log hazard.
    public var churnHazardSpread = 0.6
    /// Dirichlet concentration α₀ of category affinities (small: each shopper has favourites).
    public var affinityConcentration = 2.0
    /// Base popularity b_k of each category (sums to 1), in `ShopperCatalog.categories` order.
    public var categoryPopularity: [Double] = [0.16, 0.18, 0.14, 0.12, 0.10, 0.10, 0.08, 0.12]

    // Funnel (per session): logit p = intercept + slope·z_p.
    /// Probability q that a session views one more item after each view (views V ~ 1 + Geometric, mean 1/(1−q)).
    public var continueViewing = 2.0 / 3.0
    /// Add-to-cart per viewed item: intercept and slope on z_p.
    public var addToCart = Logit(intercept: -2.0, slope: 0.6)
    /// Checkout, given a non-empty cart at the end of browsing.
    public var checkout = Logit(intercept: 0.0, slope: 0.5)
    /// Payment completes (purchase), given checkout.
    public var payment = Logit(intercept: 1.0, slope: 0.5)
    /// Probability that a session starts with a search (then viewed items are search-result clicks).
    public var searchProbability = 0.4
    /// Probability that a viewed item is from the session's focus category (else drawn from the affinities).
    public var sessionFocus = 0.8
    /// Probability of removing another cart line after an add, when the cart has ≥ 2 lines.
    public var removeProbability = 0.12
    /// Quantity per cart line: 1 + Geometric with this continuation probability.
    public var extraQuantity = 0.2

    // After a purchase.
    /// Return probability per purchased line, by category.
    public var returnProbability: [Double] = [0.08, 0.22, 0.08, 0.05, 0.10, 0.03, 0.07, 0.02]
    /// Review probability per purchased line: (not returned, returned).
    public var reviewProbability = (kept: 0.12, returned: 0.35)
    /// A return happens in the first session ≥ 1 day after the purchase, if it starts within 30 days.
    public var returnWindowDays = (earliest: 1, latest: 30)
    /// A review happens in the first session ≥ 2 days after the purchase, if it starts within 60 days.
    public var reviewWindowDays = (earliest: 2, latest: 60)

    // Items (the catalogue is the same for every seed).
    /// Zipf exponent s of item popularity within a category: the item of popularity rank r (1 = most
    /// popular) has weight ∝ r^(−s).
    public var itemPopularityExponent = 0.9
    /// Share of each category's product lines that sell consumables (bought again), by category.
    public var consumableLineShare: [Double] = [0.05, 0.05, 0.2, 0.6, 0.15, 0, 0.05, 0.85]
    /// Probability that a view after one in the same category goes to a related item (same product line).
    public var walkProbability = 0.5
    /// Probability that a view (not a walk) revisits an item the shopper viewed recently in its category.
    public var revisitProbability = 0.5
    /// Probability that a view (not a walk or revisit) goes to an accessory of a main item the shopper bought
    /// in its category.
    public var accessoryProbability = 0.3
    /// Probability that a view (not a walk, revisit or accessory) goes to a consumable the shopper bought in
    /// its category.
    public var repeatProbability = 0.3
    /// Distinct items remembered as recently viewed (bought items are forgotten).
    public var recentViewMemory = 8
    /// Bought main items remembered (for accessories).
    public var mainMemory = 4
    /// Bought consumables remembered (for repeat purchases).
    public var consumableMemory = 6

    // Prices.
    /// Median item price by category, in currency units.
    public var medianPrice: [Double] = [90, 40, 55, 22, 45, 14, 28, 9]
    /// Price factor by item role (main, accessory, consumable) on the category median.
    public var rolePriceFactor: [Double] = [2.5, 0.5, 0.7]
    /// σ of log price within a category.
    public var priceSpread = 0.6

    // Rhythm.
    /// Relative session intensity by weekday, Monday first (normalised to mean 1).
    public var weekdayWeights: [Double] = [0.92, 0.90, 0.93, 0.97, 1.00, 1.18, 1.10]
    /// Relative session intensity by UTC hour 0…23 (normalised to sum 1). Hour 23 is 0 so that no
    /// session (≤ 1 hour long) crosses midnight: labels on whole UTC days stay exact.
    public var hourWeights: [Double] = [
        0.6, 0.3, 0.2, 0.15, 0.15, 0.3, 0.8, 1.5, 2.2, 2.8, 3.0, 3.2,
        3.6, 3.4, 3.2, 3.2, 3.4, 3.8, 4.4, 5.2, 5.6, 5.0, 3.2, 0,
    ]
    /// Mean seconds between consecutive events in a session (gap = 3 s + Exponential).
    public var meanEventGapSeconds = 40.0
    /// Longest session, in seconds.
    public var maxSessionSeconds = 3599

    public init() {}

    /// The model as documented in docs/synthetic-data.md.
    public static let standard = ShopperModel()

    /// `logistic(intercept + slope·z)`.
    public struct Logit: Sendable, Hashable {
        public var intercept: Double
        public var slope: Double

        public init(intercept: Double, slope: Double) {
            self.intercept = intercept
            self.slope = slope
        }

        public func probability(_ z: Double) -> Double { 1 / (1 + Foundation.exp(-(intercept + slope * z))) }
    }

    /// Weekday weights normalised to mean 1.
    var normalisedWeekdayWeights: [Double] {
        let mean = weekdayWeights.reduce(0, +) / Double(weekdayWeights.count)
        return weekdayWeights.map { $0 / mean }
    }

    /// Hour weights normalised to sum 1.
    var normalisedHourWeights: [Double] {
        let total = hourWeights.reduce(0, +)
        return hourWeights.map { $0 / total }
    }
}

/// One synthetic shopper's latent traits: what drives both their past and their future behaviour.
public struct ShopperTraits: Sendable, Hashable {
    /// z_a ~ N(0, 1): engagement (how often they visit).
    public let activity: Double
    /// z_p ~ N(0, 1), correlated ρ with z_a: purchase propensity (how far sessions get down the funnel).
    public let propensity: Double
    /// r: expected sessions per day (before weekday and hour rhythm).
    public let sessionsPerDay: Double
    /// p_add: add-to-cart probability per viewed item.
    public let addToCartProbability: Double
    /// p_co: checkout probability given a non-empty cart.
    public let checkoutProbability: Double
    /// p_pay: purchase probability given checkout.
    public let paymentProbability: Double
    /// h: churn hazard per day.
    public let churnHazardPerDay: Double
    /// The churn time C ~ Exponential(h), in days after the start; no session starts at or after it.
    public let churnDay: Double
    /// Category affinities a_k (sum 1), in `ShopperCatalog.categories` order.
    public let affinity: [Double]

    /// π: probability that one session ends in a purchase,
    /// `(1 − E[(1 − p_add)^V]) · p_co · p_pay` with `E[x^V] = x(1 − q)/(1 − q·x)`.
    public func purchaseProbabilityPerSession(continueViewing q: Double) -> Double {
        let x = 1 - addToCartProbability
        let noAdd = x * (1 - q) / (1 - q * x)
        return (1 - noAdd) * checkoutProbability * paymentProbability
    }

    init(model: ShopperModel, random: inout ShopperRandom) {
        let za = random.normal()
        let rho = model.activityPropensityCorrelation
        let zp = rho * za + (1 - rho * rho).squareRoot() * random.normal()
        activity = za
        propensity = zp
        sessionsPerDay = min(model.maxSessionsPerDay, model.medianSessionsPerDay * Foundation.exp(model.sessionRateSpread * za))
        addToCartProbability = model.addToCart.probability(zp)
        checkoutProbability = model.checkout.probability(zp)
        paymentProbability = model.payment.probability(zp)
        let logHazard = Foundation.log(model.medianChurnHazardPerDay) + model.churnActivityEffect * za
            + model.churnPropensityEffect * zp + model.churnHazardSpread * random.normal()
        churnHazardPerDay = Foundation.exp(logHazard)
        churnDay = random.exponential() / churnHazardPerDay
        var weights = model.categoryPopularity.map { random.gamma(shape: model.affinityConcentration * $0) }
        var total = weights.reduce(0, +)
        if !(total > 0) {
            weights = model.categoryPopularity
            total = weights.reduce(0, +)
        }
        affinity = weights.map { $0 / total }
    }
}
