import Foundation
import Testing
import VeilCore
@testable import VeilLearning

/// Artifacts written by `main` at 665008a (format version 1, before the layer abstraction): each must
/// still load and predict, bit for bit, what it predicted then (fingerprints of the probabilities over
/// `ModelFixtures.data(rows: 60, features: 3, classes:)`).
@Suite struct LegacyArtifactTests {
    static let artifacts: [(json: String, classes: Int, predictions: UInt64)] = [
        (
            #"""
            {"class_count":2,"format_version":1,"hidden_activation":"relu","hidden_sizes":[],"input_size":3,"kind":"logistic_regression","output":"sigmoid","parameter_layout":"per layer from the input: weights input-major (w[i*outputs+o]), then biases","parameters":[-0.16050224069181446,0.9321878390857127,0.42291744407975423,-0.1835673325705876],"training":{"batch_size":20,"clipping_norm":1,"epochs":1,"example_count":60,"mechanism":"dp_sgd","noise_multiplier":1,"optimizer":{"sgd":{"learning_rate":0.1,"momentum":0.9}},"sampling_rate":0.3333333333333333,"steps":3}}
            """#, 2, 0x870b5da5dcfa2316),
        (
            #"""
            {"class_count":2,"format_version":1,"hidden_activation":"relu","hidden_sizes":[7,4],"input_size":3,"kind":"mlp","output":"sigmoid","parameter_layout":"per layer from the input: weights input-major (w[i*outputs+o]), then biases","parameters":[-0.09354377466967129,1.2120048796746448,0.621257689074317,-0.05840585471639676,-0.46225794679223575,1.3387296063712568,0.018463728899383944,0.19324831429345182,-0.8429994173458426,0.836958374868043,1.2588693518256917,0.6870377351141996,-1.363084807245871,-0.021480964701638558,1.049683389396887,0.46830549572660357,-0.9149410747576671,0.6366194124142787,0.3285326370447228,0.26885609530684,0.3474414436911021,0.04369451269654319,0.0036759067882498795,-0.027503514441629743,-0.0028729629788698226,-0.01300413740071206,-0.008266683703262692,0.02950633688693088,-0.5563452758074618,0.5664717800884722,-0.22688275332355445,-0.775439223186657,0.340429550244357,0.6625307314595179,-0.21984106684281848,0.051352473312412425,0.35686969096888366,-0.4798549244735204,0.3699997312266169,0.20989901860198168,-0.09194898494314052,0.6341097031282033,0.5450815335321577,-0.42502086189907184,-0.3325216433634878,-0.13872356175189468,0.6565316215518741,0.25132032818182354,-0.5856217047748138,0.1495296699019154,-0.029036802108958787,0.4538427473196637,-0.8328672692546589,0.5003042894392837,0.347426223781893,-0.0607698622439068,0.014542806266514219,0.043398854604190504,-0.031455216280734985,-0.003930415101321846,-1.0862598036054802,-1.1020938039178625,0.22833332244933646,0.28571854078376047,-0.06397526156355683],"training":{"batch_size":20,"clipping_norm":1,"epochs":1,"example_count":60,"mechanism":"dp_sgd","noise_multiplier":1,"optimizer":{"sgd":{"learning_rate":0.1,"momentum":0.9}},"sampling_rate":0.3333333333333333,"steps":3}}
            """#, 2, 0x4c119cf505bfc030),
        (
            #"""
            {"class_count":4,"format_version":1,"hidden_activation":"relu","hidden_sizes":[],"input_size":3,"kind":"softmax_regression","output":"softmax","parameter_layout":"per layer from the input: weights input-major (w[i*outputs+o]), then biases","parameters":[-0.03746794594224313,0.8187990141531091,0.35842339848798876,-0.04558423170991917,-0.3009521004893311,0.9521397076165443,-0.049401994494478255,0.1142583540596948,-0.5425423322800326,0.6114115063235909,0.748405719127414,0.4843045882071476,0.05188532311267531,0.0747375438835505,-0.09430266283443355,0.027733594909892172],"training":{"batch_size":20,"clipping_norm":1,"epochs":1,"example_count":60,"mechanism":"dp_sgd","noise_multiplier":1,"optimizer":{"sgd":{"learning_rate":0.1,"momentum":0.9}},"sampling_rate":0.3333333333333333,"steps":3}}
            """#, 4, 0x9d6158be1fe222dd),
        (
            #"""
            {"class_count":3,"format_version":1,"hidden_activation":"relu","hidden_sizes":[6],"input_size":3,"kind":"mlp_softmax","output":"softmax","parameter_layout":"per layer from the input: weights input-major (w[i*outputs+o]), then biases","parameters":[-0.11326317650424565,1.1828203140592033,0.5709866562427253,-0.042838434865126535,-0.48751470430380583,1.3324245483401542,0.013159236198476325,0.16398894480939863,-0.8866406147920018,0.8254800591966978,1.2320411404122456,0.7127067265970526,-1.355067877782362,-0.05751617466907344,1.0055798262722222,0.43878882423668236,-0.8843474899978299,0.6082481855631768,0.02140300297646302,-0.04487831007486458,-0.04320327502006689,-0.0009705387664137549,-0.015152394917537643,-0.03066624882339238,0.17692154671516638,0.18474775328258963,0.184319607055956,-0.4230637238204265,0.44171656158693134,-0.2093738033566291,-0.6742653268130965,0.28390682624475916,0.5500224287869555,-0.13583423880171697,0.06288204006738862,0.2367896873484903,-0.40965226717677633,0.3533763116146377,0.1407396378876421,-0.016914727042844822,0.5078198432675166,0.40494408105528223,0.059050959111788925,-0.0161378317651076,-0.05869853304340495],"training":{"batch_size":20,"clipping_norm":1,"epochs":1,"example_count":60,"mechanism":"dp_sgd","noise_multiplier":1,"optimizer":{"sgd":{"learning_rate":0.1,"momentum":0.9}},"sampling_rate":0.3333333333333333,"steps":3}}
            """#, 3, 0xb9a98ee0b9098e86),
    ]

    @Test func oldArtifactsLoadAndPredictAsBefore() throws {
        for (json, classes, predictions) in Self.artifacts {
            let model = try ModelArtifact.decode(json: Data(json.utf8)).network()
            let data = ModelFixtures.data(rows: 60, features: 3, classes: classes)
            let probabilities = try model.predictProbabilities(data.features)
            #expect(SeededTrainingGoldenTests.fingerprint(probabilities) == predictions, "\(model.architecture.kind)")
            // Written again, the artifact is the same document.
            let rewritten = try ModelArtifact(network: model, training: ModelArtifact.decode(json: Data(json.utf8)).training)
            #expect(String(decoding: try rewritten.jsonData(), as: UTF8.self) == json)
        }
    }
}
