import Prometheus

/// The gateway's Prometheus metrics, in a registry the application owns (never a global, so two apps
/// in one process — tests — do not share counts).
///
/// Labels are route templates, methods and status codes only: no ID, token or body ever becomes a label.
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

    /// The Prometheus text exposition of every metric.
    func exposition() -> String { registry.emitToString() }
}
