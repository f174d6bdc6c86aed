import Foundation
import VeilCore
import VeilSynth

/// `veil generate` throughput (issue: synthetic shopper data; target ≥ 500,000 events/s in release).
enum SynthBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "synth") {
            // 12,000 users × 120 days ≈ 1.1 million events, written to a temporary file as `veil generate --out` does.
            let config = SynthConfiguration(users: 12_000, days: 120, seed: 7)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("veilbench-synth-\(getpid()).ndjson").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            var events = 0
            var bytes = 0
            var best = Double.infinity
            for _ in 0..<3 {
                let start = ContinuousClock.now
                let output = try SynthFileOutput(path: path, option: "bench")
                let summary = try await SyntheticShoppers(config).generate(write: output.write)
                output.finish()
                let elapsed = ContinuousClock.now - start
                best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                events = summary.events
                bytes = output.bytesWritten
            }
            // One core, into memory: the generator alone, without the file or the second core.
            let shoppers = SyntheticShoppers(config)
            var serialEvents = 0
            let serialSeconds = Stopwatch.bestSeconds(repetitions: 3) {
                serialEvents = 0
                for user in 0..<config.users {
                    let bytes = shoppers.events(ofUser: user)
                    for byte in bytes where byte == 10 { serialEvents += 1 }
                }
            }
            // With the truth file (its rows computed while the events are written), both to temporary files.
            let truthPath = path + ".truth.csv"
            defer { try? FileManager.default.removeItem(atPath: truthPath) }
            var truthBest = Double.infinity
            for _ in 0..<3 {
                let start = ContinuousClock.now
                let output = try SynthFileOutput(path: path, option: "bench")
                let truthOutput = try SynthFileOutput(path: truthPath, option: "bench")
                _ = try await SyntheticShoppers(config).generate(
                    write: output.write, truth: TruthRequest(topItems: 20, write: truthOutput.write))
                output.finish()
                truthOutput.finish()
                truthBest = min(truthBest, (ContinuousClock.now - start).seconds)
            }
            return [
                BenchResult(name: "synth.generate_to_file", value: Double(events) / best, unit: "events/s"),
                BenchResult(name: "synth.generate_to_file_bytes", value: Double(bytes) / best / 1e6, unit: "MB/s"),
                BenchResult(name: "synth.generate_single_core_in_memory", value: Double(serialEvents) / serialSeconds, unit: "events/s"),
                BenchResult(name: "synth.events_in_run", value: Double(events), unit: "events"),
                BenchResult(name: "synth.generate_with_truth_to_file", value: Double(events) / truthBest, unit: "events/s"),
            ]
        }
    ]
}
