import Dispatch
import Foundation
import Synchronization
import VeilCore

/// How a step weighs each example's gradient before summing.
enum ExampleWeighting {
    /// DP-SGD: each example's whole gradient scaled to L2 norm at most `clippingNorm`:
    /// weight min(1, C / ‖g_e‖).
    case clipped(clippingNorm: Double)
    /// Plain SGD: every example by the same factor (1 / batch size).
    case constant(Double)
}

/// The state one training run carries from step to step: the model, one workspace per worker, the
/// step's gradient and the optimiser state. Shared by DP-SGD and plain SGD, which differ only in how
/// examples are weighted and whether noise is added.
///
/// **Both cores, same result.** A step's examples are cut into chunks of `model.chunkSize` consecutive
/// batch entries. Workers take chunks in any order (whoever is free takes the next one); each chunk's
/// weighted gradient sum and loss go to that chunk's own buffer, and the buffers are added in chunk
/// order. So the result depends on the chunk size (fixed per model) but not on the number of workers
/// or on thread timing: a seeded run gives the same parameters, bit for bit, on one core or many.
/// The step's noise does not depend on the gradient, so it is drawn as more jobs beside the chunks: in
/// runs of consecutive draws, each from its own place in the noise stream where the source can seek
/// (`GaussianSource.runs`), so the draws are the same whoever draws them; in one job where it cannot.
struct TrainingEngine<Model: TrainableModel> {
    private(set) var model: Model
    let workers: Int
    private let workspaces: [Model.Workspace]
    /// The parameters in the model's compute precision, refreshed after every update.
    private var computeParameters: [Model.Scalar]
    /// Chunk `c`'s weighted gradient sum at `c * parameterCount`, in the model's precision.
    private var chunkGradients: [Model.Scalar] = []
    private var chunkLosses: [Double] = []
    /// Chunk `c`'s count of examples whose gradient the clipping scaled down.
    private var chunkClipped: [Int] = []
    /// Examples of the last `computeGradient` whose gradient norm exceeded the clipping norm (0 when
    /// the weighting does not clip). Computed on the private data: for a terminal, never released.
    private(set) var clippedCount = 0
    /// The step's noise, one draw per parameter.
    private var noiseDraws: [Double]
    /// The step's gradient (summed, then noised and scaled in place).
    private(set) var gradient: [Double]
    private var optimizerState: OptimizerState

    /// About how many noise draws one job of a step makes, where the noise can be cut into runs.
    private static var drawsPerNoiseJob: Int { 512 }

    /// `workers`: threads a step uses (default: every core the process may use).
    init(model: Model, optimizer: Optimizer, expectedExamples: Int, workers: Int? = nil) {
        self.model = model
        let workers = max(1, workers ?? ProcessInfo.processInfo.activeProcessorCount)
        self.workers = workers
        let perChunk = min(model.chunkSize, max(expectedExamples, 1))
        workspaces = (0..<workers).map { _ in model.makeWorkspace(examples: perChunk) }
        computeParameters = [Model.Scalar](repeating: 0, count: model.parameters.count)
        Self.narrow(model.parameters, into: &computeParameters)
        noiseDraws = [Double](repeating: 0, count: model.parameters.count)
        gradient = [Double](repeating: 0, count: model.parameters.count)
        optimizerState = OptimizerState(optimizer: optimizer, parameterCount: model.parameters.count)
    }

    /// Checks the data fits the model and the optimiser's settings are in range.
    static func validate(_ data: Model.Data, for model: Model, optimizer: Optimizer) throws {
        try model.validate(data)
        if let problem = optimizer.problem { throw VeilError(.invalidInput, field: "optimizer", problem) }
    }

    /// Fills the gradient buffer with Σ_e w_e · ∇loss_e over the examples at `batch` (zero when empty),
    /// w_e as `weighting` says, and returns the batch's summed loss (before the update).
    mutating func computeGradient(batch: [Int], data: Model.Data, weighting: ExampleWeighting) -> Double {
        var noNoise = NoNoise()
        return computeGradient(batch: batch, data: data, weighting: weighting, noiseDeviation: 0, noise: &noNoise)
    }

    /// As `computeGradient(batch:data:weighting:)`, and draws the step's noise — one N(0, noiseDeviation²)
    /// value per parameter, in parameter order, none when `noiseDeviation` is 0 — for `perturbAndScale`.
    mutating func computeGradient<Noise: GaussianSource>(
        batch: [Int], data: Model.Data, weighting: ExampleWeighting, noiseDeviation: Double, noise: inout Noise
    ) -> Double {
        let parameterCount = gradient.count
        let chunkSize = model.chunkSize
        let chunks = (batch.count + chunkSize - 1) / chunkSize
        if chunkGradients.count < chunks * parameterCount {
            chunkGradients = [Model.Scalar](repeating: 0, count: chunks * parameterCount)
        }
        if chunkLosses.count < chunks { chunkLosses = [Double](repeating: 0, count: chunks) }
        if chunkClipped.count < chunks { chunkClipped = [Int](repeating: 0, count: chunks) }
        let model = self.model
        let workspaces = self.workspaces
        let workers = self.workers
        // Runs of about `Self.drawsPerNoiseJob` draws, at most two per worker; none on one worker.
        let noiseParts = min(2 * workers, max(1, parameterCount / Self.drawsPerNoiseJob))
        let noiseRuns = (noiseDeviation > 0 && workers > 1 && noiseParts > 1
            ? noise.runs(draws: parameterCount, parts: noiseParts) : nil) ?? []
        let noiseJobs = noiseDeviation > 0 ? max(noiseRuns.count, 1) : 0
        withUnsafeMutablePointer(to: &noise) { noise in
            noiseDraws.withUnsafeMutableBufferPointer { draws in
                let draws = draws
                let drawNoise: (Int) -> Void = { job in
                    if noiseRuns.isEmpty {
                        for k in draws.indices { draws[k] = noise.pointee.next(standardDeviation: noiseDeviation) }
                    } else {
                        // A local copy: the runs' sources sit side by side, and drawing moves a source.
                        var source = noiseRuns[job].source
                        for k in noiseRuns[job].range { draws[k] = source.next(standardDeviation: noiseDeviation) }
                    }
                }
                computeParameters.withUnsafeBufferPointer { parameters in
                    chunkGradients.withUnsafeMutableBufferPointer { sums in
                        chunkLosses.withUnsafeMutableBufferPointer { losses in
                            chunkClipped.withUnsafeMutableBufferPointer { clipped in
                                batch.withUnsafeBufferPointer { indices in
                                    let jobs = StepJobs(
                                        model: model, data: data, workspaces: workspaces, weighting: weighting,
                                        parameters: parameters.baseAddress!, indices: indices, chunkSize: chunkSize,
                                        chunks: chunks, sums: sums.baseAddress!, losses: losses.baseAddress!,
                                        clipped: clipped.baseAddress!, noiseJobs: noiseJobs, drawNoise: drawNoise)
                                    DispatchQueue.concurrentPerform(iterations: min(workers, max(jobs.count, 1))) {
                                        jobs.work(as: $0)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var loss = 0.0
        chunkGradients.withUnsafeBufferPointer { sums in
            gradient.withUnsafeMutableBufferPointer { gradient in
                if chunks == 0 {
                    gradient.update(repeating: 0)
                    return
                }
                for chunk in 0..<chunks {
                    Model.Scalar.widen(
                        sums.baseAddress! + chunk * parameterCount, into: gradient.baseAddress!, count: parameterCount,
                        add: chunk > 0)
                }
            }
        }
        for chunk in 0..<chunks { loss += chunkLosses[chunk] }
        clippedCount = chunkClipped[..<chunks].reduce(0, +)
        return loss
    }

    /// `gradient[k] = (gradient[k] + noise_k) · scale` for every parameter, with the noise drawn by the
    /// last `computeGradient` (0 when its deviation was 0).
    mutating func perturbAndScale(noiseDeviation: Double, scale: Double) {
        noiseDraws.withUnsafeBufferPointer { draws in
            gradient.withUnsafeMutableBufferPointer { gradient in
                for k in gradient.indices {
                    let perturbation = noiseDeviation > 0 ? draws[k] : 0
                    gradient[k] = (gradient[k] + perturbation) * scale
                }
            }
        }
    }

    /// Applies the optimiser with the current gradient buffer and refreshes the compute copy.
    mutating func update() {
        gradient.withUnsafeBufferPointer { optimizerState.apply(gradient: $0, to: &model.parameters) }
        Self.narrow(model.parameters, into: &computeParameters)
    }

    private static func narrow(_ parameters: [Double], into target: inout [Model.Scalar]) {
        parameters.withUnsafeBufferPointer { source in
            target.withUnsafeMutableBufferPointer {
                Model.Scalar.narrow(source.baseAddress!, into: $0.baseAddress!, count: source.count)
            }
        }
    }
}

/// One step's jobs — the noise draws (when the step adds noise, in one or more runs) and one job per
/// chunk — taken by the workers in any order.
///
/// `@unchecked Sendable`: every job writes only its own chunk's sum and loss (or, for a noise job, its
/// run of the noise buffer and its run's source), reads only what no job writes, and on its worker's own
/// workspace; `concurrentPerform` returns only after every worker has finished. The atomic counter
/// hands each job to exactly one worker.
private final class StepJobs<Model: TrainableModel>: @unchecked Sendable {
    let model: Model
    let data: Model.Data
    let workspaces: [Model.Workspace]
    let weighting: ExampleWeighting
    let parameters: UnsafePointer<Model.Scalar>
    let indices: UnsafeBufferPointer<Int>
    let chunkSize: Int
    let chunks: Int
    let sums: UnsafeMutablePointer<Model.Scalar>
    let losses: UnsafeMutablePointer<Double>
    let clipped: UnsafeMutablePointer<Int>
    /// Noise jobs of the step (0 when it adds no noise).
    let noiseJobs: Int
    /// Noise job `j` (`0..<noiseJobs`) fills its share of the step's noise buffer.
    let drawNoise: (Int) -> Void
    private let next = Atomic<Int>(0)

    init(
        model: Model, data: Model.Data, workspaces: [Model.Workspace], weighting: ExampleWeighting,
        parameters: UnsafePointer<Model.Scalar>, indices: UnsafeBufferPointer<Int>, chunkSize: Int, chunks: Int,
        sums: UnsafeMutablePointer<Model.Scalar>, losses: UnsafeMutablePointer<Double>, clipped: UnsafeMutablePointer<Int>,
        noiseJobs: Int, drawNoise: @escaping (Int) -> Void
    ) {
        self.model = model
        self.data = data
        self.workspaces = workspaces
        self.weighting = weighting
        self.parameters = parameters
        self.indices = indices
        self.chunkSize = chunkSize
        self.chunks = chunks
        self.sums = sums
        self.losses = losses
        self.clipped = clipped
        self.noiseJobs = noiseJobs
        self.drawNoise = drawNoise
    }

    /// Jobs in the step: the noise jobs first, then the chunks.
    var count: Int { noiseJobs + chunks }

    /// Takes jobs until none is left, on workspace `worker`.
    func work(as worker: Int) {
        while true {
            let job = next.add(1, ordering: .relaxed).oldValue
            guard job < count else { return }
            if job < noiseJobs {
                drawNoise(job)
            } else {
                runChunk(job - noiseJobs, workspace: workspaces[worker])
            }
        }
    }

    /// Forward and backward over the chunk, then each example's weight and weighted gradient into the
    /// chunk's sum (overwritten), its summed loss and how many of its examples were clipped.
    private func runChunk(_ chunk: Int, workspace: Model.Workspace) {
        let count = model.parameters.count
        let first = chunk * chunkSize
        let chunkIndices = UnsafeBufferPointer(rebasing: indices[first..<min(first + chunkSize, indices.count)])
        let sum = sums + chunk * count
        losses[chunk] = model.forwardBackward(chunkIndices, data: data, parameters: parameters, workspace: workspace)
        Model.Scalar.clear(sum, count: count)
        var clippedExamples = 0
        let examples = chunkIndices.count
        withUnsafeTemporaryAllocation(of: Double.self, capacity: examples) { weights in
            let weights = weights.baseAddress!
            switch weighting {
            case .constant(let value):
                model.weighAndAddGradients(
                    examples: examples, withNorms: false, weigh: { _, _ in value }, weights: weights,
                    workspace: workspace, into: sum)
            case .clipped(let clippingNorm):
                model.weighAndAddGradients(
                    examples: examples, withNorms: true,
                    weigh: { _, squared in
                        guard squared > clippingNorm * clippingNorm else { return 1 }
                        clippedExamples += 1
                        return clippingNorm / squared.squareRoot()
                    },
                    weights: weights, workspace: workspace, into: sum)
            }
            model.addChunkGradient(weights: weights, workspace: workspace, into: sum)
        }
        clipped[chunk] = clippedExamples
    }
}

/// The noise of a step that adds none.
private struct NoNoise: GaussianSource {
    mutating func next(standardDeviation: Double) -> Double { 0 }
}
