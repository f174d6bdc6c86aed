import Foundation
import Hummingbird

/// TEST ONLY. Deterministic shoppers for the endpoints that read real events: `users` users, each
/// with views before the training cutoff (2026-02-26), every other one a purchase before it, and every
/// third one a purchase in the 14-day label horizon after it. User 1 also views on the horizon's last
/// day, so the stored data covers the whole horizon (training refuses a horizon past the data).
enum ShopperEvents {
    /// 2026-02-26T00:00:00Z in Unix ms: the cutoff the training tests use.
    static let cutoffMillis: Int64 = 1_772_064_000_000
    static let categories = ["electronics", "fashion", "home", "beauty", "sports", "books", "toys", "grocery"]

    static func userID(_ index: Int) -> String { "shopper-\(index)@example.com" }

    static func ndjson(users: Int) -> String {
        let day: Int64 = 86_400_000
        let start = cutoffMillis - 56 * day  // 2026-01-01
        var lines: [String] = []
        func event(_ id: String, _ user: Int, _ type: String, _ millis: Int64, extra: String = "") {
            let time = Date(timeIntervalSince1970: Double(millis) / 1000).formatted(.iso8601)
            lines.append(
                #"{"event_id":"\#(id)","user_id":"\#(userID(user))","type":"\#(type)","timestamp":"\#(time)","category":"\#(categories[user % categories.count])"\#(extra)}"#)
        }
        for user in 0..<users {
            for visit in 0..<4 {
                event("v-\(user)-\(visit)", user, "view", start + Int64(user % 20 + visit * 7) * day + 3_600_000)
            }
            if user % 2 == 0 {
                event("p-\(user)", user, "purchase", start + Int64(user % 30 + 5) * day, extra: #","price":\#(10 + user % 50),"quantity":1"#)
            }
            if user % 3 == 0 {
                event("h-\(user)", user, "purchase", cutoffMillis + 4 * day, extra: #","price":20,"quantity":1"#)
            }
        }
        if users > 1 { event("late-1", 1, "view", cutoffMillis + 13 * day + 3_600_000) }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A JSON request body.
func json(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

/// The parsed JSON object of a response body (empty if it is not one).
func object(_ body: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8))) as? [String: Any] ?? [:]
}
