/// The sequence models other modules may build and train, behind `TrainableModel`: an embedding of
/// each event's tokens, a GRU or a stack of causal convolutions, and a dense head at every targeted
/// event (see `SequenceModel`), which reads `contextWidth` context values per sequence beside the
/// encoder (0: none) and, with `headReadsEvents`, each event's embedded row (the event path); with
/// `repeatPath` the classes are the item field's tokens and a sequence's own items add to their scores
/// (`SequenceArchitecture.repeatPath`). Parameters start uniform in ±`scale` from `generator`.
///
/// `precision` is what the passes compute in: `Float` for speed, `Double` where bits matter more than
/// time (the trainers keep the master parameters in `Double` either way). Each per-example norm is
/// exact in that precision.
public enum SequenceModels {
    /// Embedding (`embeddingWidth` columns, one table per field of `tokenCounts`) → GRU (`hidden`) → head.
    public static func gru<Scalar: ComputeScalar>(
        precision: Scalar.Type, tokenCounts: [Int], embeddingWidth: Int, hidden: Int, classCount: Int,
        contextWidth: Int = 0, headReadsEvents: Bool = false, repeatPath: Bool = false, scale: Double = 0.1,
        using generator: inout some RandomNumberGenerator
    ) -> some TrainableModel<SequenceDataset> {
        SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: embeddingWidth, classCount: classCount, contextWidth: contextWidth,
            headReadsEvents: headReadsEvents, repeatField: SequenceArchitecture.repeatField(repeatPath), scale: scale,
            makeEncoder: { GRULayer<Scalar>(inputs: $0, hidden: hidden, parameterOffset: $1) }, using: &generator)
    }

    /// Embedding → `depth` causal convolutions of `channels` over `width` events, dilations 1, 2, 4, … → head.
    public static func convolution<Scalar: ComputeScalar>(
        precision: Scalar.Type, tokenCounts: [Int], embeddingWidth: Int, channels: Int, width: Int, depth: Int,
        classCount: Int, contextWidth: Int = 0, headReadsEvents: Bool = false, repeatPath: Bool = false, scale: Double = 0.1,
        using generator: inout some RandomNumberGenerator
    ) -> some TrainableModel<SequenceDataset> {
        SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: embeddingWidth, classCount: classCount, contextWidth: contextWidth,
            headReadsEvents: headReadsEvents, repeatField: SequenceArchitecture.repeatField(repeatPath), scale: scale,
            makeEncoder: {
                ConvolutionStack<Scalar>(inputs: $0, channels: channels, width: width, depth: depth, parameterOffset: $1)
            }, using: &generator)
    }
}
