/// The names of the tasks Veil trains: what a request, a policy (`training.task_defaults`), a model card
/// and the registry call a task. Each task's definition (`VeilLearning`'s `PredictionTask`) takes its
/// name from here, so a policy can name tasks without knowing how they are learnt.
public enum TaskName: String, Sendable, Hashable, Codable, CodingKeyRepresentable, CaseIterable {
    case purchase
    case churn
    case nextCategory = "next_category"
    case nextItem = "next_item"
}
