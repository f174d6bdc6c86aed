import VeilCore

/// The JSON form documented on `PrivacyMechanism`.
extension PrivacyMechanism: Codable {
    private enum CodingKeys: String, CodingKey {
        case mechanism, epsilon, count, steps, base, delta, scale, sensitivity, sigma, parts
        case noiseMultiplier = "noise_multiplier"
        case samplingRate = "sampling_rate"
    }

    /// The keys each kind of mechanism has, besides `mechanism`.
    private static let keys: [String: [CodingKeys]] = [
        "gaussian": [.noiseMultiplier, .count],
        "subsampled_gaussian": [.samplingRate, .noiseMultiplier, .steps],
        "laplace": [.epsilon, .count],
        "pure_epsilon": [.epsilon],
        "discrete_laplace": [.scale, .sensitivity, .count],
        "discrete_gaussian": [.sigma, .sensitivity, .count],
        "thresholded": [.base, .delta],
        "composition": [.parts],
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .mechanism)
        if let keys = Self.keys[name] {
            try StrictKeys.require(decoder, allowed: Set((keys + [.mechanism]).map(\.rawValue)))
        }
        switch name {
        case "gaussian":
            self = .gaussian(
                noiseMultiplier: try container.decode(Double.self, forKey: .noiseMultiplier),
                count: try container.decode(Int.self, forKey: .count))
        case "subsampled_gaussian":
            self = .subsampledGaussian(
                samplingRate: try container.decode(Double.self, forKey: .samplingRate),
                noiseMultiplier: try container.decode(Double.self, forKey: .noiseMultiplier),
                steps: try container.decode(Int.self, forKey: .steps))
        case "laplace":
            self = .laplace(
                epsilon: try container.decode(Double.self, forKey: .epsilon),
                count: try container.decode(Int.self, forKey: .count))
        case "pure_epsilon":
            self = .pureEpsilon(epsilon: try container.decode(Double.self, forKey: .epsilon))
        case "discrete_laplace":
            self = .discreteLaplace(
                scale: try container.decode(Double.self, forKey: .scale),
                sensitivity: try container.decode(Int.self, forKey: .sensitivity),
                count: try container.decode(Int.self, forKey: .count))
        case "discrete_gaussian":
            self = .discreteGaussian(
                sigma: try container.decode(Double.self, forKey: .sigma),
                sensitivity: try container.decode(Int.self, forKey: .sensitivity),
                count: try container.decode(Int.self, forKey: .count))
        case "thresholded":
            self = .thresholded(
                base: try container.decode(PrivacyMechanism.self, forKey: .base),
                delta: try container.decode(Double.self, forKey: .delta))
        case "composition":
            self = .composition(parts: try container.decode([PrivacyMechanism].self, forKey: .parts))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .mechanism, in: container,
                debugDescription:
                    "mechanism must be one of gaussian, subsampled_gaussian, laplace, pure_epsilon, discrete_laplace, discrete_gaussian, thresholded, composition")
        }
        try validate()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .mechanism)
        switch self {
        case let .gaussian(sigma, count):
            try container.encode(sigma, forKey: .noiseMultiplier)
            try container.encode(count, forKey: .count)
        case let .subsampledGaussian(q, sigma, steps):
            try container.encode(q, forKey: .samplingRate)
            try container.encode(sigma, forKey: .noiseMultiplier)
            try container.encode(steps, forKey: .steps)
        case let .laplace(epsilon, count):
            try container.encode(epsilon, forKey: .epsilon)
            try container.encode(count, forKey: .count)
        case let .pureEpsilon(epsilon):
            try container.encode(epsilon, forKey: .epsilon)
        case let .discreteLaplace(scale, sensitivity, count):
            try container.encode(scale, forKey: .scale)
            try container.encode(sensitivity, forKey: .sensitivity)
            try container.encode(count, forKey: .count)
        case let .discreteGaussian(sigma, sensitivity, count):
            try container.encode(sigma, forKey: .sigma)
            try container.encode(sensitivity, forKey: .sensitivity)
            try container.encode(count, forKey: .count)
        case let .thresholded(base, delta):
            try container.encode(base, forKey: .base)
            try container.encode(delta, forKey: .delta)
        case let .composition(parts):
            try container.encode(parts, forKey: .parts)
        }
    }
}
