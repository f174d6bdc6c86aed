/// A model that DP-SGD and minibatch SGD can train: its parameters as one flat vector, and per-example
/// gradients over a chunk of examples.
///
/// The trainers own the parameters' master copy (`parameters`, in `Double`), the optimiser and the noise;
/// a model computes in its own precision (`Scalar`) on a workspace per worker. One step:
/// `forwardBackward` for the chunk's examples, then for each example `squaredGradientNorm` (DP-SGD only)
/// and `addGradient` with that example's weight — its clip factor min(1, C/‖g‖) for DP-SGD, 1/B for
/// SGD — (both through `weighAndAddGradients`), and last `addChunkGradient` with every example's
/// weight. A model implements these by running its layers (`Layer`) in order; the trainers never look
/// inside.
public protocol TrainableModel<Data>: Sendable {
    /// The examples it trains on: rows of features with labels, or event sequences with targets.
    associatedtype Data: TrainingData
    /// The precision of the forward and backward passes and of a chunk's gradient sum.
    associatedtype Scalar: ComputeScalar
    /// One worker's buffers for a chunk; reused from step to step.
    associatedtype Workspace: AnyObject

    /// Every parameter, in the model's documented layout.
    var parameters: [Double] { get set }

    /// How many examples one chunk of a step holds: the unit a worker takes, and the unit whose
    /// gradient sums are added in a fixed order. Part of the seeded-determinism contract — a model
    /// keeps it fixed, so a seeded run gives the same parameters however many cores run it.
    var chunkSize: Int { get }

    /// Throws `VeilError.invalidInput` naming the field when `data` does not fit the model (width,
    /// classes, vocabulary) or holds no examples.
    func validate(_ data: Data) throws

    /// A workspace for chunks of up to about `examples` examples (it grows if a chunk is larger).
    func makeWorkspace(examples: Int) -> Workspace

    /// Loads the examples at `indices` of `data` into the workspace, runs the forward pass, the loss and
    /// the backward pass, and returns the loss summed over the chunk's examples.
    func forwardBackward(
        _ indices: UnsafeBufferPointer<Int>, data: Data, parameters: UnsafePointer<Scalar>, workspace: Workspace
    ) -> Double

    /// ‖∇θ loss_e‖² over every parameter for example `example` (its position in the loaded chunk), exact.
    func squaredGradientNorm(example: Int, workspace: Workspace) -> Double

    /// Adds the example-by-example share of `weight · ∇θ loss_e` for example `example` of the loaded
    /// chunk to `gradient` (`parameters.count` values); `addChunkGradient` adds the rest.
    func addGradient(example: Int, weight: Double, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>)

    /// Weighs the loaded chunk's first `examples` examples and adds their example-by-example gradient
    /// shares: for each example `e` in order, `weights[e] = weigh(e, ‖∇θ loss_e‖²)` (the squared norm only
    /// when `withNorms`, 0 otherwise), then its `addGradient` with that weight. The default goes example
    /// by example, so a model that builds an example's gradient for its norm reuses it for the add; a
    /// model may go layer by layer instead where that gives the same values.
    func weighAndAddGradients(
        examples: Int, withNorms: Bool, weigh: (_ example: Int, _ squaredNorm: Double) -> Double,
        weights: UnsafeMutablePointer<Double>, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>)

    /// Adds the whole-chunk share of `Σ_e weights[e] · ∇θ loss_e` over the loaded chunk's examples.
    /// After it, `gradient` holds the chunk's whole weighted sum.
    func addChunkGradient(weights: UnsafePointer<Double>, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>)
}

extension TrainableModel {
    public func weighAndAddGradients(
        examples: Int, withNorms: Bool, weigh: (_ example: Int, _ squaredNorm: Double) -> Double,
        weights: UnsafeMutablePointer<Double>, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        for example in 0..<examples {
            let squaredNorm = withNorms ? squaredGradientNorm(example: example, workspace: workspace) : 0
            weights[example] = weigh(example, squaredNorm)
            addGradient(example: example, weight: weights[example], workspace: workspace, into: gradient)
        }
    }
}

/// A training set of examples, one per user (which is what makes a per-example guarantee per user).
public protocol TrainingData: Sendable {
    var exampleCount: Int { get }
}
