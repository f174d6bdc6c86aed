import Foundation

/// Load on a running `veil serve`: `clients` concurrent curl clients send requests `0, 1, 2, …` (each
/// takes the next index) until `count` are sent, `stop()` is called, or the server stops answering (a
/// client stops at its first request that gets no response at all, as after `kill -9`). Every answer
/// is kept by request index, so a test knows exactly what was acknowledged before a kill.
final class HTTPLoad: @unchecked Sendable {
    struct Request: Sendable {
        var method = "POST"
        var path: String
        var contentType: String? = "application/json"
        var body: Data?
    }

    private let lock = NSLock()
    private var nextIndex = 0
    private var stopped = false
    private var answers: [Int: CurlClient.Response] = [:]
    private var unanswered: [Int] = []
    private let clients = DispatchGroup()

    init(baseURL: String, token: String, clients count: Int, limit: Int? = nil, request: @escaping @Sendable (Int) -> Request) {
        for _ in 0..<count {
            clients.enter()
            Thread.detachNewThread { [self] in
                defer { clients.leave() }
                while let index = take(limit: limit) {
                    let sent = request(index)
                    let response = try? CurlClient.send(
                        sent.method, baseURL + sent.path, token: token, contentType: sent.contentType, body: sent.body)
                    guard let response, response.status != 0 else {
                        lock.withLock { unanswered.append(index) }
                        return
                    }
                    lock.withLock { answers[index] = response }
                }
            }
        }
    }

    private func take(limit: Int?) -> Int? {
        lock.withLock {
            guard !stopped, limit.map({ nextIndex < $0 }) ?? true else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }

    /// Waits until `count` requests were answered with `status`; false after `timeout`.
    @discardableResult
    func waitFor(_ count: Int, answeredWith status: Int = 200, timeout: Duration = .seconds(120)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.answered(status).count >= count { return true }
            if lock.withLock({ stopped || unanswered.count > 0 }) { return false }
            usleep(2_000)
        }
        return false
    }

    /// Sends no new request; requests in flight finish.
    func stop() { lock.withLock { stopped = true } }

    /// Waits for every client to finish.
    func finish() {
        clients.wait()
    }

    /// The answers with `status`, by request index.
    func answered(_ status: Int) -> [Int: CurlClient.Response] {
        lock.withLock { answers.filter { $0.value.status == status } }
    }

    /// Every answer's status, by request index.
    var statuses: [Int: Int] { lock.withLock { answers.mapValues(\.status) } }

    /// Requests that got no response (in flight at a kill, or sent after it).
    var unansweredCount: Int { lock.withLock { unanswered.count } }
}

/// The spend id of a `POST /v1/queries` answer (`budget.spend_id`), nil for anything else.
func spendID(of response: CurlClient.Response) -> Int64? {
    guard response.status == 200,
        let object = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
        let budget = object["budget"] as? [String: Any], let id = budget["spend_id"] as? Int
    else { return nil }
    return Int64(id)
}
