import ArgumentParser
import Foundation
import VeilRuntime

/// Where the keys live: `--keys DIR`, env `VEIL_KEYS`, default `keys`.
struct KeyOptions: ParsableArguments {
    @Option(name: .customLong("keys"), help: ArgumentHelp("Key directory (env VEIL_KEYS).", valueName: "dir"))
    var keysOverride: String?

    var keysDirectory: String { keysOverride ?? Environment.value("VEIL_KEYS") ?? "keys" }
}

/// Where the data lives: `--data-dir DIR`, env `VEIL_DATA_DIR`, default `veil-data`.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (env VEIL_DATA_DIR).", valueName: "dir"))
    var dataDirectoryOverride: String?

    var dataDirectory: String { dataDirectoryOverride ?? Environment.value("VEIL_DATA_DIR") ?? "veil-data" }
}

/// Which policy applies: `--policy FILE`, env `VEIL_POLICY`, default `policies/default.yaml`.
struct PolicyOptions: ParsableArguments {
    @Option(name: .customLong("policy"), help: ArgumentHelp("Policy file (env VEIL_POLICY).", valueName: "file"))
    var policyOverride: String?

    var policyPath: String { explicitPath ?? "policies/default.yaml" }

    /// The policy named by `--policy` or `VEIL_POLICY`, nil when the default applies.
    var explicitPath: String? { policyOverride ?? Environment.value("VEIL_POLICY") }
}

/// `--json`: print one JSON document on stdout instead of text.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
    var json = false
}

enum Environment {
    /// The value of an environment variable, treating an empty value as unset.
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}

/// `--keys`, `--data-dir` and `--policy` together, for commands that use the service layer.
struct ServiceOptions: ParsableArguments {
    @OptionGroup var keys: KeyOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var policy: PolicyOptions

    /// Opens keys, policy and the data directory, runs `body`, and closes the context — `audit.log`
    /// then mirrors every record the command committed — whether `body` succeeded or not. The CLI acts
    /// as principal `cli`.
    func withContext<T>(_ body: (VeilContext) async throws -> T) async throws -> T {
        let context = try await VeilContext.open(
            keysDirectory: keys.keysDirectory, dataDirectory: data.dataDirectory, policyPath: policy.policyPath,
            actor: "cli")
        let result: Result<T, any Error>
        do { result = .success(try await body(context)) } catch { result = .failure(error) }
        if let failure = await context.close() { Output.note("note: audit.log was not brought up to date (\(failure)); the next command does it") }
        return try result.get()
    }
}
