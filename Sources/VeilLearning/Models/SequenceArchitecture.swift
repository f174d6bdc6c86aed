import VeilCore

/// The shape of a sequence model: embedded event tokens, an encoder over time, and an output head read
/// at each position that has a target.
///
/// Parameters live in one flat array: the embedding tables (field order, each `tokenCounts[f] ×
/// embedding`), the encoder's (`GRULayer` or `ConvolutionStack`, layouts documented there), then the
/// head's dense layer (`encoder width × outputs` input-major, then the biases).
public struct SequenceArchitecture: Sendable, Hashable, Codable {
    /// What reads the embedded events in time order.
    public enum Encoder: Sendable, Hashable, Codable {
        /// A GRU with `hidden` units (the family `gru`).
        case gru(hidden: Int)
        /// `depth` causal convolutions of `width` taps and `channels` outputs, dilations 1, 2, 4, …
        /// (the family `cnn`).
        case convolution(channels: Int, width: Int, depth: Int)
    }

    /// Distinct tokens per event field (`SequenceSchema.tokenCount`).
    public let tokenCounts: [Int]
    /// Columns of the embedding (every field's table is this wide; an event is the sum of its rows).
    public let embedding: Int
    public let encoder: Encoder
    public let head: ModelArchitecture.Head

    /// Throws `VeilError.invalidInput` naming the field when a size is out of range.
    public init(tokenCounts: [Int], embedding: Int, encoder: Encoder, head: ModelArchitecture.Head) throws {
        guard !tokenCounts.isEmpty, tokenCounts.allSatisfy({ $0 > 0 }) else {
            throw VeilError(.invalidInput, field: "tokenCounts", "every field needs at least one token")
        }
        guard (1...1024).contains(embedding) else {
            throw VeilError(.invalidInput, field: "embedding", "must be between 1 and 1024")
        }
        switch encoder {
        case .gru(let hidden):
            guard (1...1024).contains(hidden) else { throw VeilError(.invalidInput, field: "hidden", "must be between 1 and 1024") }
        case .convolution(let channels, let width, let depth):
            guard (1...1024).contains(channels) else {
                throw VeilError(.invalidInput, field: "hidden", "must be between 1 and 1024")
            }
            guard (1...16).contains(width) else { throw VeilError(.invalidInput, field: "width", "must be between 1 and 16") }
            guard (1...8).contains(depth) else { throw VeilError(.invalidInput, field: "depth", "must be between 1 and 8") }
        }
        if case .softmax(let classes) = head, classes < 2 {
            throw VeilError(.invalidInput, field: "classes", "a softmax head needs at least 2 classes")
        }
        self.tokenCounts = tokenCounts
        self.embedding = embedding
        self.encoder = encoder
        self.head = head
    }

    public var family: ModelFamily {
        switch encoder {
        case .gru: .gru
        case .convolution: .cnn
        }
    }

    /// Columns the encoder puts out (the head's input).
    public var encoderWidth: Int {
        switch encoder {
        case .gru(let hidden): hidden
        case .convolution(let channels, _, _): channels
        }
    }

    /// 1 for a sigmoid head, K for softmax.
    public var outputSize: Int {
        switch head {
        case .sigmoid: 1
        case .softmax(let classes): classes
        }
    }

    /// 2 for a sigmoid head, K for softmax (the classes targets range over).
    public var classCount: Int {
        switch head {
        case .sigmoid: 2
        case .softmax(let classes): classes
        }
    }

    var embeddingParameterCount: Int { tokenCounts.reduce(0, +) * embedding }

    var encoderParameterCount: Int {
        switch encoder {
        case .gru(let hidden): (embedding + hidden + 2) * 3 * hidden
        case .convolution(let channels, let width, let depth):
            (width * embedding + 1) * channels + (depth - 1) * (width * channels + 1) * channels
        }
    }

    public var parameterCount: Int { embeddingParameterCount + encoderParameterCount + (encoderWidth + 1) * outputSize }
}
