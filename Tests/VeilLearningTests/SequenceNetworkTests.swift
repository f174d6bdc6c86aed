import Foundation
import Testing
import VeilCore
import VeilCrypto
@testable import VeilLearning

/// `SequenceNetwork` (the public face of `SequenceModel`), its artifact, and the `next_item` targets.
@Suite struct SequenceNetworkTests {
    static func schema() throws -> SequenceSchema {
        var policy = Policy()
        policy.sequences.length = 6
        return SequenceSchema(policy: policy, vocabulary: try ItemVocabulary(items: ["a", "b", "c"]))
    }

    static func architecture(_ encoder: SequenceArchitecture.Encoder, classes: Int) throws -> SequenceArchitecture {
        try SequenceArchitecture(
            encoder: encoder, tokenCounts: SequenceSchema.Field.allCases.map(try schema().tokenCount), embeddingWidth: 4,
            hiddenWidth: 5, classCount: classes)
    }

    /// The JSON coders of a model file (snake_case keys, as `ModelFile` writes and reads them).
    static func fileCoders() -> (JSONEncoder, JSONDecoder) {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (encoder, decoder)
    }

    @Test(arguments: [SequenceArchitecture.Encoder.gru, .cnn], [2, 4])
    func theParameterCountIsTheModelsAndTheArtifactRoundTrips(encoder: SequenceArchitecture.Encoder, classes: Int) throws {
        let architecture = try Self.architecture(encoder, classes: classes)
        var generator = ChaChaNoiseGenerator(seed: 4)
        let network = SequenceNetwork(architecture: architecture, using: &generator)
        #expect(network.parameters.count == architecture.parameterCount)
        let data = try SequenceModelTests.data(classes: classes)
        let tokenCounts = SequenceModelTests.tokenCounts
        let small = try SequenceArchitecture(
            encoder: encoder, tokenCounts: tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: classes)
        let model = SequenceNetwork(architecture: small, using: &generator)
        let nonEmpty = try SequenceDataset(
            tokens: data.tokens, tokenCounts: tokenCounts, starts: [0] + Set(data.starts).filter { $0 > 0 }.sorted(),  // the empty sequences left out
            targets: data.targets, classCount: classes)
        let probabilities = try model.probabilities(atLastEventOf: nonEmpty)
        #expect(probabilities.count == nonEmpty.exampleCount * (classes == 2 ? 1 : classes))
        #expect(probabilities.allSatisfy { $0 > 0 && $0 < 1 })
        if classes > 2 {
            for example in 0..<nonEmpty.exampleCount {
                let sum = probabilities[(example * classes)..<((example + 1) * classes)].reduce(0, +)
                #expect(abs(sum - 1) < 1e-12)
            }
        }

        let artifact = SequenceArtifact(network: network, schema: try Self.schema())
        let (encoder, decoder) = Self.fileCoders()
        let read = try decoder.decode(SequenceArtifact.self, from: encoder.encode(artifact))
        #expect(read == artifact)
        #expect(try read.network() == network)
    }

    /// The probability at the last event is the one a forward pass over that sequence alone gives,
    /// whatever else shares its chunk.
    @Test func predictionsDoNotDependOnTheChunk() throws {
        var generator = ChaChaNoiseGenerator(seed: 9)
        let architecture = try SequenceArchitecture(
            encoder: .gru, tokenCounts: SequenceModelTests.tokenCounts, embeddingWidth: 3, hiddenWidth: 4, classCount: 3)
        let network = SequenceNetwork(architecture: architecture, using: &generator)
        let tokens: [Int32] = [1, 2, 3, 0, 5, 1, 2, 2, 0, 0]
        let together = try SequenceDataset(
            tokens: tokens, tokenCounts: SequenceModelTests.tokenCounts, starts: [0, 2, 5], targets: [-1, -1, -1, -1, -1],
            classCount: 3)
        let alone = try SequenceDataset(
            tokens: Array(tokens[4...]), tokenCounts: SequenceModelTests.tokenCounts, starts: [0, 3], targets: [-1, -1, -1],
            classCount: 3)
        let both = try network.probabilities(atLastEventOf: together)
        #expect(Array(both[3...]) == (try network.probabilities(atLastEventOf: alone)))
        let empty = try SequenceDataset(
            tokens: [], tokenCounts: SequenceModelTests.tokenCounts, starts: [0, 0], targets: [], classCount: 3)
        #expect(throws: VeilError.self) { try network.probabilities(atLastEventOf: empty) }
    }

    @Test func aTamperedArtifactIsRefused() throws {
        var generator = ChaChaNoiseGenerator(seed: 5)
        let network = SequenceNetwork(architecture: try Self.architecture(.cnn, classes: 2), using: &generator)
        var policy = Policy()
        policy.categories = ["only"]
        let otherSchema = SequenceSchema(policy: policy, vocabulary: try ItemVocabulary(items: ["a", "b", "c"]))
        let error = #expect(throws: VeilError.self) { try SequenceArtifact(network: network, schema: otherSchema).network() }
        #expect(error?.field == "schema")
    }

    /// A wide-and-deep network's artifact keeps its context (the schema's features and the architecture's
    /// width) and round-trips; a file from before context (no `context_width`, no `context`) still loads
    /// as a network without one; a schema whose context is not the architecture's is refused.
    @Test func contextRoundTripsAndOlderFilesLoadWithoutIt() throws {
        var schema = try Self.schema()
        schema.context = FeatureSchema(policy: Policy())
        let plain = try Self.architecture(.gru, classes: 2)
        let architecture = try SequenceArchitecture(
            encoder: .gru, tokenCounts: plain.tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: 2,
            contextWidth: schema.contextWidth)
        #expect(architecture.parameterCount == plain.parameterCount + schema.contextWidth)
        var generator = ChaChaNoiseGenerator(seed: 6)
        let network = SequenceNetwork(architecture: architecture, using: &generator)
        #expect(network.parameters.count == architecture.parameterCount)
        let (encoder, decoder) = Self.fileCoders()
        let artifact = SequenceArtifact(network: network, schema: schema)
        let read = try decoder.decode(SequenceArtifact.self, from: encoder.encode(artifact))
        #expect(read == artifact)
        #expect(try read.network() == network)

        let old = SequenceNetwork(architecture: plain, using: &generator)
        var json = try #require(
            try JSONSerialization.jsonObject(with: encoder.encode(SequenceArtifact(network: old, schema: try Self.schema())))
                as? [String: Any])
        var oldArchitecture = try #require(json["architecture"] as? [String: Any])
        #expect(oldArchitecture.removeValue(forKey: "context_width") as? Int == 0)
        json["architecture"] = oldArchitecture
        let oldRead = try decoder.decode(SequenceArtifact.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(oldRead.schema.context == nil)
        #expect(try oldRead.network() == old)

        let error = #expect(throws: VeilError.self) { try SequenceArtifact(network: old, schema: schema).network() }
        #expect(error?.field == "schema")
    }

    /// A network whose sequences end with the cutoff marker: its embedding has the marker's rows (one
    /// type, one gap token per time-to-cutoff bucket), its file is format version 2 and round-trips; a
    /// file without the marker is still written and read as version 1 (what builds before the marker
    /// read; a file written then has no `time_to_cutoff_bounds_seconds` key and loads unchanged); a
    /// version that does not match the schema, or one this build does not know, is refused naming
    /// `formatVersion`.
    @Test func theCutoffMarkerIsFormatVersionTwoAndOlderFilesStillLoad() throws {
        let (encoder, decoder) = Self.fileCoders()
        var generator = ChaChaNoiseGenerator(seed: 8)
        let plainSchema = try Self.schema()
        var schema = plainSchema
        schema.timeToCutoffBoundsSeconds = Policy().sequences.timeToCutoffBoundsSeconds
        let bounds = Policy().sequences.timeToCutoffBoundsSeconds.count
        #expect(schema.tokenCounts[0] == plainSchema.tokenCounts[0] + 1)
        #expect(schema.tokenCounts[SequenceSchema.Field.gap.rawValue] == plainSchema.tokenCounts[SequenceSchema.Field.gap.rawValue] + bounds + 1)
        let architecture = try SequenceArchitecture(
            encoder: .gru, tokenCounts: schema.tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: 2)
        let network = SequenceNetwork(architecture: architecture, using: &generator)
        let artifact = SequenceArtifact(network: network, schema: schema)
        #expect(artifact.formatVersion == 2)
        let read = try decoder.decode(SequenceArtifact.self, from: encoder.encode(artifact))
        #expect(read == artifact && read.schema.timeToCutoffBoundsSeconds == schema.timeToCutoffBoundsSeconds)
        #expect(try read.network() == network)

        // Without the marker: version 1, and no key for it in the file.
        let old = SequenceNetwork(architecture: try Self.architecture(.gru, classes: 2), using: &generator)
        let oldFile = try encoder.encode(SequenceArtifact(network: old, schema: plainSchema))
        let oldJSON = try #require(try JSONSerialization.jsonObject(with: oldFile) as? [String: Any])
        #expect(oldJSON["format_version"] as? Int == 1)
        #expect((oldJSON["schema"] as? [String: Any])?.keys.contains("time_to_cutoff_bounds_seconds") == false)
        let oldRead = try decoder.decode(SequenceArtifact.self, from: oldFile)
        #expect(oldRead.schema.timeToCutoffBoundsSeconds == nil)
        #expect(try oldRead.network() == old)

        // A version that does not match the schema, or an unknown one.
        for (json, version) in [(oldJSON, 2), (try #require(try JSONSerialization.jsonObject(with: encoder.encode(artifact)) as? [String: Any]), 1), (oldJSON, 3), (oldJSON, 4)] {
            var changed = json
            changed["format_version"] = version
            let file = try decoder.decode(SequenceArtifact.self, from: JSONSerialization.data(withJSONObject: changed))
            let error = #expect(throws: VeilError.self) { try file.network() }
            #expect(error?.field == "formatVersion")
        }
    }

    /// A network with the repeat path: two more parameters after the head, its file is format version 4
    /// with `repeat_path` in its architecture and the longer layout text, and round-trips, with and
    /// without the event path; the same file under version 3, or version 4 without the key, is refused
    /// naming `formatVersion`. An architecture whose classes are not the item tokens is refused naming
    /// `repeatPath` (a binary head; a head with another number of classes).
    @Test func theRepeatPathIsFormatVersionFour() throws {
        let (encoder, decoder) = Self.fileCoders()
        var generator = ChaChaNoiseGenerator(seed: 13)
        let schema = try Self.schema()
        let items = schema.vocabulary.count + 1
        for events in [false, true] {
            let plain = try SequenceArchitecture(
                encoder: .cnn, tokenCounts: schema.tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: items,
                headReadsEvents: events)
            let architecture = try SequenceArchitecture(
                encoder: .cnn, tokenCounts: schema.tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: items,
                headReadsEvents: events, repeatPath: true)
            #expect(architecture.parameterCount == plain.parameterCount + 2)
            let network = SequenceNetwork(architecture: architecture, using: &generator)
            let artifact = SequenceArtifact(network: network, schema: schema)
            #expect(artifact.formatVersion == 4 && artifact.parameterLayout.hasSuffix("then the repeat path's w_seen and w_recent"))
            let file = try encoder.encode(artifact)
            let read = try decoder.decode(SequenceArtifact.self, from: file)
            #expect(read == artifact && read.architecture.repeatPath && read.architecture.headReadsEvents == events)
            #expect(try read.network() == network)
            let json = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
            #expect((json["architecture"] as? [String: Any])?["repeat_path"] as? Bool == true)
            let without = try encoder.encode(SequenceArtifact(network: SequenceNetwork(architecture: plain, using: &generator), schema: schema))
            let withoutJSON = try #require(try JSONSerialization.jsonObject(with: without) as? [String: Any])
            #expect((withoutJSON["architecture"] as? [String: Any])?.keys.contains("repeat_path") == false)

            var keyless = json
            var keylessArchitecture = try #require(json["architecture"] as? [String: Any])
            keylessArchitecture.removeValue(forKey: "repeat_path")
            keyless["architecture"] = keylessArchitecture
            keyless["parameters"] = Array((json["parameters"] as? [Double] ?? []).dropLast(2))
            var older = json
            older["format_version"] = 3
            for changed in [keyless, older] {
                let file = try decoder.decode(SequenceArtifact.self, from: JSONSerialization.data(withJSONObject: changed))
                let error = #expect(throws: VeilError.self) { try file.network() }
                #expect(error?.field == "formatVersion")
            }
        }
        for classes in [2, items + 1] {
            let error = #expect(throws: VeilError.self) {
                try SequenceArchitecture(
                    encoder: .gru, tokenCounts: schema.tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: classes,
                    repeatPath: true)
            }
            #expect(error?.field == "repeatPath")
        }
    }

    /// A network whose head reads events (the event path): `embeddingWidth` more head inputs per output,
    /// its file is format version 3 with `head_reads_events` in its architecture and the longer layout
    /// text, and round-trips, with and without the cutoff marker; a network without the path is written
    /// without the key (as before it existed); a file whose version or key disagrees with the other is
    /// refused naming `formatVersion` (a build before version 3 refuses such a file by its version).
    @Test func theEventPathIsFormatVersionThree() throws {
        let (encoder, decoder) = Self.fileCoders()
        var generator = ChaChaNoiseGenerator(seed: 10)
        let plainSchema = try Self.schema()
        var markerSchema = plainSchema
        markerSchema.timeToCutoffBoundsSeconds = Policy().sequences.timeToCutoffBoundsSeconds
        for schema in [plainSchema, markerSchema] {
            let plain = try SequenceArchitecture(
                encoder: .gru, tokenCounts: schema.tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: 4)
            let architecture = try SequenceArchitecture(
                encoder: .gru, tokenCounts: schema.tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: 4,
                headReadsEvents: true)
            #expect(architecture.parameterCount == plain.parameterCount + 4 * 4)
            let network = SequenceNetwork(architecture: architecture, using: &generator)
            #expect(network.parameters.count == architecture.parameterCount)
            let artifact = SequenceArtifact(network: network, schema: schema)
            #expect(artifact.formatVersion == 3)
            #expect(artifact.parameterLayout.contains("hidden + embedding width + context width"))
            let file = try encoder.encode(artifact)
            let read = try decoder.decode(SequenceArtifact.self, from: file)
            #expect(read == artifact && read.architecture.headReadsEvents)
            #expect(try read.network() == network)
            let json = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
            #expect((json["architecture"] as? [String: Any])?["head_reads_events"] as? Bool == true)

            let without = SequenceArtifact(network: SequenceNetwork(architecture: plain, using: &generator), schema: schema)
            #expect(without.formatVersion == (schema.timeToCutoffBoundsSeconds == nil ? 1 : 2))
            let withoutJSON = try #require(try JSONSerialization.jsonObject(with: encoder.encode(without)) as? [String: Any])
            #expect((withoutJSON["architecture"] as? [String: Any])?.keys.contains("head_reads_events") == false)
            #expect(!without.parameterLayout.contains("embedding width"))

            // Version 3 without the key, or the key under an older version, is refused.
            var keyless = json
            var keylessArchitecture = try #require(json["architecture"] as? [String: Any])
            keylessArchitecture.removeValue(forKey: "head_reads_events")
            keyless["architecture"] = keylessArchitecture
            var older = json
            older["format_version"] = withoutJSON["format_version"]
            for changed in [keyless, older] {
                let file = try decoder.decode(SequenceArtifact.self, from: JSONSerialization.data(withJSONObject: changed))
                let error = #expect(throws: VeilError.self) { try file.network() }
                #expect(error?.field == "formatVersion")
            }
        }
    }

    /// `next_category`'s head prior (`HeadPrior`, from the context's column names only): one weight per
    /// category, from its session share column to its class. Applied, it zeroes the head but for those weights
    /// and leaves the embedding and encoder as drawn; the untrained network then ranks the categories of
    /// 30 random sequences exactly by their session share columns (the favourite category by sessions first, whatever the
    /// encoder's state). A weight outside the head is refused; a task without a prior has none, and a
    /// schema without the share columns gives none.
    @Test func theFavouriteCategoryPriorStartsAtTheFavourite() throws {
        var schema = try Self.schema()
        #expect(PredictionTask.nextCategory.definition.headPrior(schema: schema) == nil)  // no context
        schema.readAsOfTheCutoff(features: FeatureSchema(policy: Policy()), policy: Policy())
        let prior = try #require(PredictionTask.nextCategory.definition.headPrior(schema: schema))
        #expect(PredictionTask.purchase.definition.headPrior(schema: schema) == nil)
        #expect(PredictionTask.nextItem.definition.headPrior(schema: schema) == nil)
        var older = try Self.schema()  // a context of a build before the session shares
        var olderFeatures = FeatureSchema(policy: Policy())
        olderFeatures.features.removeAll { $0.name.hasPrefix("session_share_") }
        older.readAsOfTheCutoff(features: olderFeatures, policy: Policy())
        #expect(PredictionTask.nextCategory.definition.headPrior(schema: older) == nil)
        let names = schema.contextNames
        #expect(prior.name == "session_favourite_category" && prior.weights.count == schema.categories.count)
        for (output, category) in schema.categories.enumerated() {
            #expect(prior.weights[output].output == output && names[prior.weights[output].contextColumn] == "session_share_category_\(category)")
        }
        let classes = schema.categories.count
        let architecture = try SequenceArchitecture(
            encoder: .gru, tokenCounts: schema.tokenCounts, embeddingWidth: 4, hiddenWidth: 5, classCount: classes,
            contextWidth: schema.contextWidth)
        var generator = ChaChaNoiseGenerator(seed: 12)
        let drawn = SequenceNetwork(architecture: architecture, using: &generator)
        let parameters = try prior.apply(to: drawn.parameters, architecture: architecture)
        let headSize = (5 + schema.contextWidth + 1) * classes
        let headStart = parameters.count - headSize
        #expect(parameters[..<headStart] == drawn.parameters[..<headStart])
        let set = Set(prior.weights.map { headStart + (5 + $0.contextColumn) * classes + $0.output })
        for index in headStart..<parameters.count {
            #expect(parameters[index] == (set.contains(index) ? NextCategoryTask.favouritePriorWeight : 0))
        }
        let network = try SequenceNetwork(architecture: architecture, parameters: parameters)
        var tokens: [Int32] = []
        var context: [Double] = []
        var starts = [0]
        for _ in 0..<30 {
            for _ in 0..<Int.random(in: 1...5, using: &generator) {
                tokens += schema.tokenCounts.map { Int32(Int.random(in: 0..<$0, using: &generator)) }
            }
            starts.append(tokens.count / schema.tokenCounts.count)
            context += (0..<schema.contextWidth).map { _ in Double.random(in: 0...1, using: &generator) }
        }
        let data = try SequenceDataset(
            tokens: tokens, tokenCounts: schema.tokenCounts, starts: starts,
            targets: [Int32](repeating: -1, count: starts.last!), classCount: classes, context: context,
            contextWidth: schema.contextWidth)
        let probabilities = try network.probabilities(atLastEventOf: data)
        for example in 0..<30 {
            let row = Array(probabilities[(example * classes)..<((example + 1) * classes)])
            let shares = prior.weights.map { context[example * schema.contextWidth + $0.contextColumn] }
            #expect(row.indices.max { row[$0] < row[$1] } == shares.indices.max { shares[$0] < shares[$1] })
            #expect(zip(row, row.dropFirst()).map { $0 < $1 } == zip(shares, shares.dropFirst()).map { $0 < $1 })
        }
        let outside = HeadPrior(name: "x", weights: [HeadPrior.Weight(contextColumn: schema.contextWidth, output: 0, value: 1)])
        let error = #expect(throws: VeilError.self) { try outside.apply(to: drawn.parameters, architecture: architecture) }
        #expect(error?.field == "headPrior")
    }

    /// `next_item` targets: the next event's item class at every event ("other" is the vocabulary's
    /// count, no item is none), and the first item after the cutoff at the last.
    @Test func nextItemTargetsTheNextEventsItem() throws {
        let schema = try Self.schema()
        let fields = SequenceSchema.Field.allCases.count
        func event(item: Int32) -> [Int32] {
            var tokens = [Int32](repeating: 0, count: fields)
            tokens[SequenceSchema.Field.item.rawValue] = item
            return tokens
        }
        // Items: a (token 1), none (0), other (4), c (3).
        var example = SequenceExample(
            pseudonym: Pseudonym(high: 0, low: 1), tokens: event(item: 1) + event(item: 0) + event(item: 4) + event(item: 3),
            outcome: Outcome(purchased: false, churned: false, nextCategory: nil, nextItem: "b"))
        let task = PredictionTask.nextItem.definition
        #expect(task.needsSequences && task.classCount(sequences: schema) == 4)
        #expect(task.targets(example, schema: schema) == [-1, 3, 2, 1])
        example.outcome.nextItem = nil
        #expect(task.targets(example, schema: schema) == [-1, 3, 2, -1])
        // A binary task labels the last event only.
        example.outcome.purchased = true
        #expect(PredictionTask.purchase.definition.targets(example, schema: schema) == [-1, -1, -1, 1])
    }
}
