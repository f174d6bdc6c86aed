import VeilCore
import Foundation
@testable import VeilSynth

/// One small dataset (200 users × 40 days, seed 7), generated serially and parsed once for the tests
/// that only read it. The parsed objects are never mutated.
enum Shared {
    static let configuration = SynthConfiguration(users: 200, days: 40, seed: 7)

    nonisolated(unsafe) static let dataset: (bytes: [UInt8], events: [ParsedEvent], summary: GenerationSummary) = {
        let shoppers = SyntheticShoppers(configuration)
        let cutoffDay = configuration.effectiveCutoffDay!
        var buffer = ByteBuffer()
        var scratch = UserScratch()
        var summary = GenerationSummary()
        summary.labels = .init(cutoff: configuration.start.adding(days: cutoffDay).description, horizonDays: 14)
        for user in 0..<configuration.users {
            summary.add(shoppers.writeUser(user, into: &buffer, scratch: &scratch, cutoffDay: cutoffDay), cutoffDay: cutoffDay)
        }
        let bytes = buffer.array
        return (bytes, try! parse(bytes), summary)
    }()
}

/// Generates a dataset into memory.
func generateBytes(_ configuration: SynthConfiguration) async throws -> ([UInt8], GenerationSummary) {
    var bytes: [UInt8] = []
    let summary = try await SyntheticShoppers(configuration).generate(write: { bytes.append(contentsOf: $0) })
    return (bytes, summary)
}

/// The NDJSON lines of `bytes` (without the newline); the last line must end in a newline.
func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    var out: [ArraySlice<UInt8>] = []
    var start = 0
    for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
        out.append(bytes[start..<index])
        start = index + 1
    }
    return out
}

/// One parsed event, as the tests need it.
struct ParsedEvent {
    let object: [String: Any]
    let raw: String
    var type: String { object["type"] as! String }
    var user: String { object["user_id"] as! String }
    var session: String { object["session_id"] as! String }
    var item: String? { object["item_id"] as? String }
    /// Seconds since 1970 of the RFC 3339 timestamp, parsed by Foundation's ISO 8601 parser (−1 if invalid).
    let time: Int
    var day: Int { time / 86400 }
}

/// Parses every line with `JSONSerialization` (throws on any malformed line).
func parse(_ bytes: [UInt8]) throws -> [ParsedEvent] {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return try lines(bytes).map { line in
        let data = Data(line)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let stamp = object["timestamp"] as? String ?? ""
        let time = stamp.count == 20 ? formatter.date(from: stamp).map { Int($0.timeIntervalSince1970) } : nil
        return ParsedEvent(object: object, raw: String(decoding: line, as: UTF8.self), time: time ?? -1)
    }
}

/// Seconds since 1970 at 00:00 UTC of `date`.
func epochSeconds(_ date: CivilDate) -> Int { date.daysSinceEpoch * 86400 }
