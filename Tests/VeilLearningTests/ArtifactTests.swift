import Foundation
import Testing
import VeilCore
import VeilCrypto
@testable import VeilLearning

@Suite struct ArtifactTests {
    @Test func roundTripGivesIdenticalPredictions() throws {
        for (architecture, classes) in try ModelFixtures.architectures(features: 5) {
            let data = ModelFixtures.data(rows: 200, features: 5, classes: classes)
            var sampling = ChaChaNoiseGenerator(seed: 1)
            var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 2))
            let trained = try DPSGD.train(
                ModelFixtures.network(architecture), on: data,
                configuration: DPSGDConfiguration(noiseMultiplier: 1, clippingNorm: 1, expectedBatchSize: 20, epochs: 1),
                sampling: &sampling, noise: &noise)
            let json = try ModelArtifact(network: trained.network, training: trained.report).jsonData()
            let artifact = try ModelArtifact.decode(json: json)
            let reloaded = try artifact.network()
            #expect(artifact.kind == architecture.kind)
            #expect(artifact.training == trained.report)
            #expect(reloaded == trained.network)
            let before = try trained.network.predictProbabilities(data.features)
            let after = try reloaded.predictProbabilities(data.features)
            #expect(before.map(\.bitPattern) == after.map(\.bitPattern))
        }
    }

    @Test func documentNamesItsParts() throws {
        let network = ModelFixtures.network(try ModelArchitecture(inputSize: 3, hiddenSizes: [2], head: .sigmoid))
        let text = String(decoding: try ModelArtifact(network: network).jsonData(), as: UTF8.self)
        #expect(text.contains("\"kind\":\"mlp\""))
        #expect(text.contains("\"hidden_sizes\":[2]"))
        #expect(text.contains("\"output\":\"sigmoid\""))
    }

    @Test func inconsistentArtifactsAreRejected() throws {
        let network = ModelFixtures.network(try .logisticRegression(inputSize: 3))
        var object = try #require(
            JSONSerialization.jsonObject(with: ModelArtifact(network: network).jsonData()) as? [String: Any])
        object["parameters"] = [0.1, 0.2]
        let shortParameters = try ModelArtifact.decode(json: JSONSerialization.data(withJSONObject: object))
        #expect { try shortParameters.network() } throws: { ($0 as? VeilError)?.field == "parameters" }

        object["parameters"] = [0.1, 0.2, 0.3, 0.4]
        object["kind"] = "mlp"
        let wrongKind = try ModelArtifact.decode(json: JSONSerialization.data(withJSONObject: object))
        #expect { try wrongKind.network() } throws: { ($0 as? VeilError)?.field == "kind" }

        #expect { try ModelArtifact.decode(json: Data("{}".utf8)) } throws: { ($0 as? VeilError)?.field == "model" }
    }
}
