import Foundation
import VeilCore
import VeilStore

/// The SQLite backend: every store of a data directory over one `veil.sqlite` (WAL,
/// `synchronous = FULL`), and model artifacts as files beside it.
public enum SQLiteStores {
    /// The database file's name inside the data directory.
    public static let fileName = VeilDatabase.fileName

    /// Opens (creating if needed, and migrating) the stores of the data directory `directory`.
    public static func open(directory: String, configuration: StoreConfiguration) throws -> StoreSet {
        let database = try VeilDatabase(directory: directory)
        let chain = SQLiteAuditChain(configuration: configuration)
        let events = SQLiteEventStore(database: database, chain: chain)
        return StoreSet(
            events: events, vault: events, ledger: SQLiteLedgerStore(database: database, chain: chain),
            models: SQLiteModelStore(database: database, chain: chain), artifacts: FileArtifactStore(dataDirectory: directory),
            tokens: SQLiteTokenStore(database: database, chain: chain), settings: SQLiteSettingsStore(database: database, chain: chain),
            keySet: SQLiteKeySetStore(database: database, chain: chain), audit: SQLiteAuditChainStore(database: database, chain: chain),
            location: database.path)
    }
}
