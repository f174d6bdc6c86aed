import Foundation
import Synchronization
import VeilCore

/// Training runs started over HTTP (`POST /v1/training-runs`): each runs in the background and is
/// looked up by its id (`GET /v1/training-runs/{id}`).
///
/// Contract:
/// - `start` checks the request at once as `TrainingService.check` does — rules, policy, label horizon
///   within the stored data — (a broken rule throws, naming the
///   field, and nothing starts), then returns a `running` run while `TrainingService` trains.
/// - The budget is reserved inside the run, before any event is read; a refusal ends the run as
///   `failed` with the ledger's message, nothing read or registered.
/// - A run shows how far it is (`progress`: phase, epoch, step, ε of the steps so far), updated as it
///   trains and kept as it was last reported once it ends; never the training loss, which is computed
///   on the private data and not released.
/// - Runs live in memory only: a restart forgets them (and abandons a run in progress), and only the
///   latest `keptFinishedRuns` finished runs are kept. What a run produced is durable elsewhere: the
///   registered model (`GET /v1/models`), the ledger spend (`GET /v1/budget`, never refunded) and the
///   audit records.
public actor TrainingRuns {
    /// Where a run is.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case running, succeeded, failed
    }

    /// A run as `GET /v1/training-runs/{id}` shows it.
    public struct Run: Sendable, Encodable, Equatable {
        public let id: String
        public var status: Status
        /// The registered candidate model (succeeded only).
        public var modelId: String?
        /// Its model card (succeeded only).
        public var card: JSONValue?
        /// Why it failed: the service's message naming the field or cap (failed only).
        public var error: String?
        /// How far it got, as last reported (nil until the run reports); encoded without the loss.
        public var progress: TrainingProgress?

        enum CodingKeys: String, CodingKey {
            case id, status, card, error, progress
            case modelId = "model_id"
        }
    }

    /// How many finished runs are remembered; the oldest finished run is forgotten past this.
    public static let keptFinishedRuns = 1000

    private let trainer: TrainingService
    private var runs: [String: Run] = [:]
    /// The latest progress of each remembered run, written by the training task as it reports.
    private let reported = Mutex<[String: TrainingProgress]>([:])
    /// Ids of finished runs, oldest first.
    private var finished: [String] = []
    /// Runs finished since this process started, by outcome (forgotten runs included).
    private var outcomes: [Status: Int] = [:]
    /// Ids of every remembered run, oldest first.
    private var started: [String] = []

    public init(trainer: TrainingService) {
        self.trainer = trainer
    }

    /// Validates `request` and starts training it for `principal` (ledger role `trainer`).
    public func start(_ request: TrainingRequest, principal: String) async throws -> Run {
        _ = try await trainer.check(request)
        let run = Run(id: UUID().uuidString.lowercased(), status: .running)
        runs[run.id] = run
        started.append(run.id)
        let trainer = trainer
        Task {
            var outcome = run
            do {
                let card = try await trainer.train(request, principal: principal, role: .trainer) { progress in
                    var progress = progress
                    progress.meanLoss = nil  // computed on the private data: never kept or returned
                    progress.clippedShare = nil
                    self.reported.withLock { $0[run.id] = progress }
                }
                outcome.status = .succeeded
                outcome.modelId = card.modelId
                outcome.card = try? card.jsonValue()
            } catch {
                outcome.status = .failed
                outcome.error = (error as? VeilError)?.description ?? "internal error: the run failed unexpectedly"
            }
            self.finish(outcome)
        }
        return run
    }

    /// The run `id`, or `.notFound`.
    public func run(id: String) throws -> Run {
        guard var run = runs[id] else {
            throw VeilError(.notFound, field: "id", "no training run with this id (runs are kept in memory until the server restarts)")
        }
        run.progress = reported.withLock { $0[id] }
        return run
    }

    /// Runs by state: `running` now; `succeeded` and `failed` since this process started.
    public func counts() -> [Status: Int] {
        var counts = outcomes
        counts[.running] = runs.values.filter { $0.status == .running }.count
        return counts
    }

    /// Every remembered run, newest first, without its card (`run(id:)` has it).
    public func all() -> [Run] {
        started.reversed().compactMap { id in
            guard var run = runs[id] else { return nil }
            run.card = nil
            run.progress = reported.withLock { $0[id] }
            return run
        }
    }

    private func finish(_ run: Run) {
        outcomes[run.status, default: 0] += 1
        runs[run.id] = run
        finished.append(run.id)
        if finished.count > Self.keptFinishedRuns {
            let forgotten = finished.removeFirst()
            runs[forgotten] = nil
            reported.withLock { $0[forgotten] = nil }
            started.removeAll { $0 == forgotten }
        }
    }
}
