import Prometheus
import VeilLedger
import VeilModels

/// The gateway's Prometheus metrics, in a registry the application owns (never a global, so two apps
/// in one process — tests — do not share counts).
///
/// Labels are route templates, methods, status codes, tasks, model and run states and the policy's
/// dataset name only: no ID, token or body ever becomes a label.
public final class GatewayMetrics: Sendable {
    /// Everything `/metrics` exposes.
    public let registry: PrometheusCollectorRegistry
    /// Events newly stored by committed batches.
    let eventsAccepted: Counter
    /// Events of committed batches whose `event_id` was already stored.
    let eventsDuplicate: Counter
    /// Invalid events in rejected (422) batches.
    let eventsRejected: Counter

    /// Upper bounds of the request-duration buckets, 1 ms to 10 s.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        eventsAccepted = registry.makeCounter(
            descriptor: .init(metricName: "veil_events_accepted", unitName: "total", helpText: "Events newly stored by committed batches."))
        eventsDuplicate = registry.makeCounter(
            descriptor: .init(
                metricName: "veil_events_duplicate", unitName: "total",
                helpText: "Events whose event_id was already stored (counted, not stored again)."))
        eventsRejected = registry.makeCounter(
            descriptor: .init(metricName: "veil_events_rejected", unitName: "total", helpText: "Invalid events in rejected batches."))
    }

    /// Records one finished request under its route template (`unmatched` when no route matched).
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: .init(
                metricName: "veil_http_request_duration", unitName: "seconds",
                helpText: "HTTP request duration by route template, method and status."),
            labels: [("route", route), ("method", method), ("status", String(status))],
            buckets: Self.durationBuckets
        ).record(duration)
    }

    /// Counts predictions answered with 200 for `task` (`veil_predictions_total`).
    func recordPredictions(_ count: Int, task: String) {
        registry.makeCounter(
            descriptor: .init(metricName: "veil_predictions", unitName: "total", helpText: "Predictions served, by task."),
            labels: [("task", task)]
        ).increment(by: Int64(count))
    }

    /// Counts subjects answered with a list by `POST /v1/recommendations` (`veil_recommendations_total`).
    func recordRecommendations(_ count: Int) {
        registry.makeCounter(
            descriptor: .init(
                metricName: "veil_recommendations", unitName: "total", helpText: "Recommendation lists served (one per subject)."),
            labels: []
        ).increment(by: Int64(count))
    }

    /// Sets the gauges read from the service state at scrape time: the budget of the policy's dataset
    /// (`veil_budget_epsilon_{cap,spent,remaining}`), models by state (`veil_models`) and this
    /// process's training runs by state (`veil_training_runs`). A use case left out is not exposed.
    func refresh(budget: BudgetService?, models: ModelRegistry?, runs: TrainingRuns?) async throws {
        if let budget {
            let status = try await budget.status()
            for (name, value) in [
                ("cap", status.totalEpsilon), ("spent", status.spentEpsilon), ("remaining", status.remainingEpsilon),
            ] {
                registry.makeGauge(
                    descriptor: .init(
                        metricName: "veil_budget_epsilon", unitName: name,
                        helpText: "The dataset's privacy budget (ε, composed by the policy's accountant): \(name)."),
                    labels: [("dataset", status.dataset)]
                ).set(value)
            }
        }
        if let models {
            for (state, count) in try await models.countsByState() {
                registry.makeGauge(
                    descriptor: .init(metricName: "veil_models", unitName: "", helpText: "Models in the registry, by review state."),
                    labels: [("state", state)]
                ).set(Double(count))
            }
        }
        if let runs {
            let counts = await runs.counts()
            for state in TrainingRuns.Status.allCases {
                registry.makeGauge(
                    descriptor: .init(
                        metricName: "veil_training_runs", unitName: "",
                        helpText: "Training runs of this process: running now, and succeeded or failed since it started."),
                    labels: [("state", state.rawValue)]
                ).set(Double(counts[state] ?? 0))
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    func exposition() -> String { registry.emitToString() }
}
