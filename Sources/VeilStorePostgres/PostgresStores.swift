import Foundation
import VeilCore
import VeilStore

/// The PostgreSQL backend: every store of a deployment over one database that several replicas share
/// (`--database-url`). Model artifacts live in the database too, so a replica needs nothing of another
/// replica's data directory.
public enum PostgresStores {
    /// Connects to `location` (whose schema must be this binary's: `veil db migrate`) and opens every
    /// store over a pool of at most `maximumConnections` connections, closed when the stores are gone.
    public static func open(_ location: PostgresLocation, configuration: StoreConfiguration, maximumConnections: Int = 20) async throws
        -> StoreSet
    {
        let database = try await VeilPostgresDatabase.open(location, maximumConnections: maximumConnections)
        let chain = PostgresAuditChain(database: database, configuration: configuration)
        let events = PostgresEventStore(chain: chain)
        return StoreSet(
            events: events, vault: events, ledger: PostgresLedgerStore(chain: chain), models: PostgresModelStore(chain: chain),
            artifacts: PostgresArtifactStore(database: database), tokens: PostgresTokenStore(chain: chain),
            settings: PostgresSettingsStore(chain: chain), keySet: PostgresKeySetStore(chain: chain),
            audit: PostgresAuditChainStore(chain: chain), location: location.description)
    }
}
