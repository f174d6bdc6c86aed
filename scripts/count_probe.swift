// Where a grouped count's time goes on SQLite (docs/architecture.md, "At scale": why the grouped count
// grows faster than the store). A measurement tool, not part of Veil: it runs the loop of the store's
// readers (`SQLiteGroupCounts`: `SELECT pid, <column> FROM events WHERE rowid` ranges of 65,536, even
// ranges on thread 0, odd on thread 1) over a Veil database, doing one step more per mode, and prints
// the CPU-seconds of each thread and the CPU µs per row. Read-only.
//
//   echo '#include <sqlite3.h>' > /tmp/probe.h
//   swiftc -O -import-objc-header /tmp/probe.h scripts/count_probe.swift -lsqlite3 -o /tmp/count_probe
//   /tmp/count_probe DATA/veil.sqlite MODE THREADS [COLUMN]        (COLUMN: category (default), ts_ms)
//   USER_CUT=26 /tmp/count_probe …   counts only pseudonyms whose first byte is below 26 (a tenth)
//   /tmp/count_probe DATA/veil.sqlite slices THREADS ts_ms SLICES
//   /tmp/count_probe COPY/veil.sqlite slices THREADS category SLICES   (on a copy given a covering index:
//     sqlite3 COPY/veil.sqlite 'CREATE INDEX events_day_pid_cov ON events(ts_ms / 86400000, pid, ts_ms, type, category)')
//
// Modes: `read` (step, read both columns), `keys-before` (+ the key's index as the count first found
// it: an array, a string and a dictionary lookup whenever it differs from the last row's), `keys` (+ the
// index from the key's bytes), `pairs-before` (the count as it was: keys-before + a dictionary of
// (pid, key) pairs), `pairs` (keys + that dictionary), `users` (keys + a per-user table of 8 cells, as
// `PseudonymGroupCounter` now), `slices` (day keys from the `events_day_pid` index, the pid space in
// SLICES slices, each counted into a dictionary of its own; with `category`, from a covering index, each
// slice into a per-user counter of its own; `slices-read` reads the same without counting).
import Foundation
import Glibc

let arguments = CommandLine.arguments
let path = arguments[1]
let mode = arguments[2]
let threads = Int(arguments[3]) ?? 1
let column = arguments.count > 4 ? arguments[4] : "category"
let userCut = UInt64(ProcessInfo.processInfo.environment["USER_CUT"] ?? "256")!

func threadCPU() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

struct Pair: Hashable { var high: UInt64; var low: UInt64; var key: Int32 }

/// The per-user layout: an entry per pseudonym (linear probing, load ≤ ½) and 8 (key, count) cells per
/// user; further keys in a dictionary of pairs.
struct PerUser {
    struct Entry { var high: UInt64 = 0; var low: UInt64 = 0; var index: Int64 = -1; var padding: UInt64 = 0 }  // 32 bytes, as PseudonymTable's
    struct Cell { var key: Int32 = -1; var count: UInt32 = 0 }
    var entries = [Entry](repeating: Entry(), count: 1 << 10)
    var cells: [Cell] = []
    var overflow: [Pair: Int64] = [:]
    var users = 0

    static func slot(_ high: UInt64, _ low: UInt64) -> Int {
        Int(truncatingIfNeeded: (((high &* 0x9E37_79B9_7F4A_7C15) ^ low) &* 0xD6E8_FEB8_6659_FD93) >> 32)
    }

    mutating func add(_ high: UInt64, _ low: UInt64, _ key: Int32) {
        if (users + 1) * 2 > entries.count {
            let old = entries
            entries = [Entry](repeating: Entry(), count: old.count * 2)
            for entry in old where entry.index >= 0 {
                var p = Self.slot(entry.high, entry.low) & (entries.count - 1)
                while entries[p].index >= 0 { p = (p + 1) & (entries.count - 1) }
                entries[p] = entry
            }
        }
        let (mask, next) = (entries.count - 1, users)
        let (user, inserted): (Int, Bool) = entries.withUnsafeMutableBufferPointer { e in
            var p = Self.slot(high, low) & mask
            while e[p].index >= 0 {
                if e[p].high == high && e[p].low == low { return (Int(e[p].index), false) }
                p = (p + 1) & mask
            }
            e[p] = Entry(high: high, low: low, index: Int64(next))
            return (next, true)
        }
        if inserted {
            users += 1
            cells.append(contentsOf: repeatElement(Cell(), count: 8))
        }
        let counted: Bool = cells.withUnsafeMutableBufferPointer { c in
            for i in (user * 8)..<(user * 8 + 8) {
                if c[i].key == key { c[i].count &+= 1; return true }
                if c[i].key < 0 { c[i] = Cell(key: key, count: 1); return true }
            }
            return false
        }
        if !counted { overflow[Pair(high: high, low: low, key: key), default: 0] += 1 }
    }
}

/// The index of the key spelt by `text` among the keys met so far (`known`), compared by their bytes;
/// a new key is appended.
func knownIndex(of text: UnsafeBufferPointer<UInt8>, in known: inout [[UInt8]]) -> Int32 {
    for (index, bytes) in known.enumerated() where bytes.count == text.count && memcmp(bytes, text.baseAddress!, text.count) == 0 {
        return Int32(index)
    }
    known.append(Array(text))
    return Int32(known.count - 1)
}

final class Outcome: @unchecked Sendable { var rows = 0; var counted = 0; var cpu = 0.0; var held = 0; var sink: UInt64 = 0 }

func open() -> OpaquePointer {
    var db: OpaquePointer?
    guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else { fatalError("cannot open \(path)") }
    sqlite3_exec(db, "PRAGMA cache_size = -65536", nil, nil, nil)  // as Veil's connections
    sqlite3_exec(db, "BEGIN", nil, nil, nil)
    return db
}

func prepare(_ db: OpaquePointer, _ sql: String) -> OpaquePointer {
    var statement: OpaquePointer?
    guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else { fatalError(String(cString: sqlite3_errmsg(db))) }
    return statement
}

/// Reads the ranges of one thread, doing what `mode` says per row.
func readRanges(lane: Int, _ outcome: Outcome) {
    let db = open()
    let bounds = prepare(db, "SELECT MIN(rowid), MAX(rowid) FROM events")
    sqlite3_step(bounds)
    let (first, last) = (sqlite3_column_int64(bounds, 0), sqlite3_column_int64(bounds, 1))
    sqlite3_finalize(bounds)
    let statement = prepare(db, "SELECT pid, \(column) FROM events WHERE rowid >= ?1 AND rowid < ?2 AND \(column) IS NOT NULL")
    let start = threadCPU()
    var pairs: [Pair: Int64] = [:]
    var perUser = PerUser()
    var keyIndex: [String: Int32] = [:]
    var lastText: [UInt8] = []
    var lastIndex: Int32 = -1
    var known: [[UInt8]] = []
    var range = first + Int64(lane) * 65_536
    while range <= last {
        sqlite3_reset(statement)
        sqlite3_bind_int64(statement, 1, range)
        sqlite3_bind_int64(statement, 2, range + 65_536)
        while sqlite3_step(statement) == SQLITE_ROW {
            outcome.rows += 1
            let raw = UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, 0)!, count: 16)
            let high = UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self))
            let low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            var key: Int32 = 0
            if column == "ts_ms" {
                key = Int32(truncatingIfNeeded: sqlite3_column_int64(statement, 1) / 86_400_000)
            } else {
                let text = UnsafeBufferPointer(start: sqlite3_column_text(statement, 1)!, count: Int(sqlite3_column_bytes(statement, 1)))
                if mode == "read" {
                    outcome.sink &+= UInt64(text.count)
                } else if mode.hasSuffix("before") {
                    if lastIndex < 0 || !lastText.elementsEqual(text) {
                        lastText = Array(text)
                        let name = String(decoding: text, as: UTF8.self)
                        lastIndex = keyIndex[name] ?? Int32(keyIndex.count)
                        keyIndex[name] = lastIndex
                    }
                    key = lastIndex
                } else {
                    key = knownIndex(of: text, in: &known)
                }
            }
            if high >> 56 >= userCut { continue }
            outcome.counted += 1
            switch mode {
            case "pairs", "pairs-before": pairs[Pair(high: high, low: low, key: key), default: 0] += 1
            case "users": perUser.add(high, low, key)
            default: outcome.sink &+= high ^ low ^ UInt64(bitPattern: Int64(key))
            }
        }
        range += Int64(threads) * 65_536
    }
    outcome.cpu = threadCPU() - start
    outcome.held = mode == "users" ? perUser.users : pairs.count
    sqlite3_finalize(statement)
    sqlite3_close(db)
}

/// Day keys from the covering index, the pid space cut in `slices`; slice s on thread s mod threads.
func readSlices(lane: Int, slices: Int, _ outcome: Outcome) {
    let db = open()
    let statement = prepare(db, """
        WITH RECURSIVE days(day) AS (SELECT MIN(ts_ms / 86400000) FROM events UNION ALL
          SELECT (SELECT MIN(ts_ms / 86400000) FROM events WHERE ts_ms / 86400000 > days.day) FROM days WHERE days.day IS NOT NULL)
        SELECT events.pid, events.\(column) FROM days CROSS JOIN events
        WHERE events.ts_ms / 86400000 = days.day AND events.pid >= ?1 AND events.pid < ?2
        """)
    func bound(_ slice: Int) -> [UInt8] {
        if slice >= slices { return [UInt8](repeating: 0xFF, count: 17) }
        let top = UInt64(slice) &* (UInt64.max / UInt64(slices) &+ 1)
        return withUnsafeBytes(of: top.bigEndian, Array.init) + [UInt8](repeating: 0, count: 8)
    }
    let start = threadCPU()
    var pairs: [Pair: Int64] = [:]
    var perUser = PerUser()
    var known: [[UInt8]] = []
    for slice in stride(from: lane, to: slices, by: threads) {
        sqlite3_reset(statement)
        let (low, high) = (bound(slice), bound(slice + 1))
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        low.withUnsafeBytes { _ = sqlite3_bind_blob(statement, 1, $0.baseAddress, Int32($0.count), transient) }
        high.withUnsafeBytes { _ = sqlite3_bind_blob(statement, 2, $0.baseAddress, Int32($0.count), transient) }
        pairs.removeAll(keepingCapacity: true)
        while sqlite3_step(statement) == SQLITE_ROW {
            outcome.rows += 1
            outcome.counted += 1
            let raw = UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, 0)!, count: 16)
            let high = UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self))
            let low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if column == "ts_ms" {
                let day = Int32(truncatingIfNeeded: sqlite3_column_int64(statement, 1) / 86_400_000)
                pairs[Pair(high: high, low: low, key: day), default: 0] += 1
                continue
            }
            // A text column (the covering index's category): its key from the bytes, a per-user counter per slice.
            let text = UnsafeBufferPointer(start: sqlite3_column_text(statement, 1)!, count: Int(sqlite3_column_bytes(statement, 1)))
            let key = knownIndex(of: text, in: &known)
            if mode == "slices-read" { outcome.sink &+= high ^ UInt64(key) } else { perUser.add(high, low, key) }
        }
        outcome.held = max(outcome.held, column == "ts_ms" ? pairs.count : perUser.users)
        perUser = PerUser()
    }
    outcome.cpu = threadCPU() - start
    sqlite3_finalize(statement)
    sqlite3_close(db)
}

let outcomes = (0..<threads).map { _ in Outcome() }
let done = DispatchGroup()
for lane in 0..<threads {
    done.enter()
    Thread.detachNewThread {
        if mode.hasPrefix("slices") { readSlices(lane: lane, slices: Int(arguments[5])!, outcomes[lane]) } else { readRanges(lane: lane, outcomes[lane]) }
        done.leave()
    }
}
done.wait()
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let rows = outcomes.reduce(0) { $0 + $1.rows }
let cpu = outcomes.reduce(0) { $0 + $1.cpu }
print(
    "mode=\(mode) threads=\(threads) column=\(column) rows=\(rows) counted=\(outcomes.map(\.counted)) held=\(outcomes.map(\.held))",
    "cpu_s=\(outcomes.map { String(format: "%.2f", $0.cpu) }) cpu_us_per_row=\(String(format: "%.3f", cpu / Double(rows) * 1e6))",
    "peak_rss_mb=\(usage.ru_maxrss / 1024)")
