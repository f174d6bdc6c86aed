/// The model families Veil trains, by the names training requests, the CLI and model cards use.
/// The task decides the output layer (a sigmoid for a binary task, a softmax over the classes of a
/// multi-class one); a sequence family's encoder is `VeilLearning`'s (`sequenceEncoder`).
public enum ModelFamily: String, Sendable, Codable, CaseIterable, Hashable {
    /// No hidden layer over a user's feature row: logistic regression (softmax regression for a
    /// multi-class task).
    case logistic
    /// Dense ReLU hidden layers over a user's feature row.
    case mlp
    /// A GRU over the user's last events (`SequenceNetwork`).
    case gru
    /// Causal temporal convolutions over the user's last events (`SequenceNetwork`).
    case cnn
}
