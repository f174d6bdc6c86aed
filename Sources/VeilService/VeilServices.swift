import Foundation
import VeilCore
import VeilCrypto
import VeilStore

/// Everything a face (the CLI, `veil serve`, VeilBench) needs, opened from a key directory, a data
/// directory and a policy file: the one place where the service layer is wired together.
public struct VeilServices: Sendable {
    public let keys: KeyRing
    public let database: VeilDatabase
    public let policy: Policy
    /// The signed audit log, once it exists in this build; nil until then.
    public let audit: (any AuditRecording)?
    public let tokens: TokenService

    /// Loads the keys, opens (migrating) the database and the policy, and builds the services.
    /// A nil `policyPath` means the built-in defaults (`Policy()`), for benchmarks and tests.
    public static func open(keysDirectory: String, dataDirectory: String, policyPath: String?) throws -> VeilServices {
        let keys = try KeyRing.load(directory: keysDirectory)
        let database = try VeilDatabase(directory: dataDirectory)
        // MERGE(audit-policy): load and validate `policyPath` with VeilPolicy and open the signed audit log.
        _ = policyPath
        let policy = Policy()
        let audit: (any AuditRecording)? = nil
        let tokens = TokenService(store: SQLiteTokenStore(database: database), master: keys.master, audit: audit)
        return VeilServices(keys: keys, database: database, policy: policy, audit: audit, tokens: tokens)
    }

    /// The ingest pipeline (validate → minimise → pseudonymise → escrow → store) over this database.
    public func ingestPipeline() throws -> any EventIngesting {
        // MERGE(ingest): return the ingest branch's service built from keys, database, policy and audit.
        throw VeilError(.unavailable, "the ingest pipeline is not available in this build (it arrives with the ingest branch)")
    }

    /// The erasure use case over this database.
    public func subjectEraser() throws -> any SubjectErasing {
        // MERGE(ingest): return the ingest branch's erasure service built from keys, database and audit.
        throw VeilError(.unavailable, "subject erasure is not available in this build (it arrives with the ingest branch)")
    }
}
