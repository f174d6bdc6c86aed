/// One trainable layer of a model, and everything DP-SGD needs from it.
///
/// A layer's parameters are the slice `parameterOffset ..< parameterOffset + parameterCount` of its
/// model's flat parameter vector. A model runs its layers over a chunk of examples (each example owns
/// some rows, `ExampleRows`): `forward` over every row, `backward` from the loss towards the input, and
/// then, one example at a time,
/// 1. `squaredGradientNorm(example:)` — the squared L2 norm of that one example's gradient with respect
///    to this layer's parameters, **exactly** (not a bound): the model adds its layers' values to get the
///    whole example's ‖g‖², from which DP-SGD takes the weight w = min(1, C/‖g‖);
/// 2. `addGradient(example:weight:)` right after — adds this layer's example-by-example share of
///    w · (that example's gradient);
/// and once the chunk's examples are done, 3. `addChunkGradient(weights:)` — adds the share the layer
/// keeps for the whole chunk. Between them 2 and 3 add Σ_e w_e · g_e exactly once; a layer does its
/// work in one of the two and leaves the other empty.
///
/// How a layer gets its norm and its sum is its own business: a dense layer whose weights each example
/// uses once has the closed form ‖a‖²‖δ‖² (ghost clipping) and adds Σ_e w_e a_e ⊗ δ_e for the chunk as one
/// matrix product; a layer whose weights an example uses at several rows (time steps, repeated
/// embedding rows) sums that example's row contributions before taking the norm, and adds the sum it
/// formed. The trainer never switches on layer kinds — the same division of labour as Opacus' per-layer
/// grad samplers, with types in place of a registry.
///
/// Contract: 1–3 read only what `forward` and `backward` left for the chunk; `addGradient` for example
/// `e` is correct whether or not `squaredGradientNorm(e)` ran first (plain SGD takes no norms).
protocol Layer {
    associatedtype Scalar: BinaryFloatingPoint
    /// What `forward` reads: rows of activations, or token indices for an embedding.
    associatedtype Input
    /// One worker's memory for this layer: what `forward` keeps for `backward`, and gradient scratch.
    associatedtype Memory: AnyObject

    var parameterOffset: Int { get }
    var parameterCount: Int { get }
    /// Columns of the output rows.
    var outputWidth: Int { get }

    func makeMemory() -> Memory

    /// Computes the output rows of every example of the chunk.
    func forward(
        _ input: Input, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        output: RowBuffer<Scalar>)

    /// Given `outputDelta` (dLoss/dOutput per row, as this layer defines its output), writes
    /// dLoss/dInput to `inputDelta` when one is given, and keeps what the parameter gradient needs.
    func backward(
        _ input: Input, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        outputDelta: RowBuffer<Scalar>, inputDelta: RowBuffer<Scalar>?)

    /// ‖∂loss_e/∂θ‖² over this layer's parameters θ for example `example` of the chunk, exact.
    func squaredGradientNorm(
        example: Int, input: Input, rows: ExampleRows, memory: Memory, outputDelta: RowBuffer<Scalar>
    ) -> Double

    /// Adds this layer's example-by-example share of `weight · ∂loss_e/∂θ` to `gradient`, the model's whole
    /// gradient vector (the layer writes at its own offset).
    func addGradient(
        example: Int, weight: Scalar, input: Input, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>)

    /// Adds this layer's whole-chunk share of `Σ_e weights[e] · ∂loss_e/∂θ` to `gradient`.
    func addChunkGradient(
        weights: UnsafePointer<Scalar>, input: Input, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>)
}

/// The nonlinearity a layer applies to its output.
enum Activation: Sendable, Hashable {
    case identity
    /// max(0, x).
    case relu
}
