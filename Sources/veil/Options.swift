import ArgumentParser
import Foundation
import VeilCore
import VeilLearning
import VeilRuntime
import VeilStore

/// Where the keys live: `--keys DIR`, env `VEIL_KEYS`, default `keys`.
struct KeyOptions: ParsableArguments {
    @Option(name: .customLong("keys"), help: ArgumentHelp("Key directory (env VEIL_KEYS).", valueName: "dir"))
    var keysOverride: String?

    var keysDirectory: String { keysOverride ?? Environment.value("VEIL_KEYS") ?? "keys" }
}

/// Where the data lives: `--data-dir DIR`, env `VEIL_DATA_DIR`, default `veil-data`; and the store:
/// `--database-url URL`, env `VEIL_DATABASE_URL`, default `veil.sqlite` in the data directory.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (env VEIL_DATA_DIR).", valueName: "dir"))
    var dataDirectoryOverride: String?

    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "The store (env VEIL_DATABASE_URL, which keeps a password out of the process list): postgresql://USER@HOST:PORT/DB, postgresql:///DB?host=/socket/dir, or sqlite: (the default: veil.sqlite in the data directory).",
            valueName: "url"))
    var databaseURLOverride: String?

    var dataDirectory: String { dataDirectoryOverride ?? Environment.value("VEIL_DATA_DIR") ?? "veil-data" }

    /// The parsed `--database-url` (or `VEIL_DATABASE_URL`); `.sqlite` when neither is set.
    func databaseURL() throws -> DatabaseURL {
        try DatabaseURL(parsing: databaseURLOverride ?? Environment.value("VEIL_DATABASE_URL"))
    }
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

/// Who the command acts as: `--as NAME`, env `VEIL_PRINCIPAL`, default `cli` — the actor of every audit
/// record the command writes, the principal its budget spends are charged to, and the name the
/// separation of duties compares (who trained a model cannot approve it). Names follow the token-name
/// rule (`Principal.checkName`).
struct PrincipalOptions: ParsableArguments {
    @Option(
        name: .customLong("as"),
        help: ArgumentHelp(
            "The principal you act as, recorded in the audit log (env VEIL_PRINCIPAL; default cli; 1–64 of A–Z a–z 0–9 . _ -).",
            valueName: "name"))
    var nameOverride: String?

    var name: String { nameOverride ?? Environment.value("VEIL_PRINCIPAL") ?? Principal.defaultCLIName }

    func validate() throws {
        do {
            try Principal.checkName(name, field: nameOverride == nil ? "VEIL_PRINCIPAL" : "--as")
        } catch let error as VeilError {
            throw ValidationError(error.description)
        }
    }
}

/// `--keys`, `--data-dir`, `--policy` and `--as` together, for commands that use the service layer.
struct ServiceOptions: ParsableArguments {
    @OptionGroup var keys: KeyOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var policy: PolicyOptions
    @OptionGroup var actor: PrincipalOptions

    /// The principal this command acts as (`--as`, `VEIL_PRINCIPAL`, default `cli`).
    var principal: String { actor.name }

    /// Refuses a `VEIL_KERNELS` that names no kernel path (`KernelCap`) before the command runs: a
    /// misspelt cap would otherwise cap nothing, without a word. (`--help` is answered first.)
    func validate() throws {
        do {
            try KernelCap.check()
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Opens keys, policy and the data directory, runs `body`, and closes the context — `audit.log`
    /// then mirrors every record the command committed — whether `body` succeeded or not. The CLI acts
    /// as `principal`.
    func withContext<T>(_ body: (VeilContext) async throws -> T) async throws -> T {
        let context = try await VeilContext.open(
            keysDirectory: keys.keysDirectory, dataDirectory: data.dataDirectory, databaseURL: try data.databaseURL(),
            policyPath: policy.policyPath, actor: principal)
        let result: Result<T, any Error>
        do { result = .success(try await body(context)) } catch { result = .failure(error) }
        if let failure = await context.close() { Output.note("note: audit.log was not brought up to date (\(failure)); the next command does it") }
        return try result.get()
    }
}
