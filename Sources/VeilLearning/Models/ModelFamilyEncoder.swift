import VeilCore

extension ModelFamily {
    /// The encoder of a sequence family; nil for the feature-row families.
    public var sequenceEncoder: SequenceArchitecture.Encoder? {
        switch self {
        case .logistic, .mlp: nil
        case .gru: .gru
        case .cnn: .cnn
        }
    }
}
