import Foundation
import VeilCore
import VeilStore
import VeilStorePostgres
import VeilStoreSQLite

/// Where a deployment's stores live, from `--database-url` / `VEIL_DATABASE_URL` (`DatabaseURL`) and
/// `--data-dir`. Nothing above this file knows which backend runs.
public enum StoreLocation: Sendable, Equatable {
    /// `<directory>/veil.sqlite` and model artifacts in `<directory>/models`.
    case dataDirectory(String)
    /// A PostgreSQL database shared by replicas (model artifacts in it too).
    case postgres(PostgresLocation)

    /// The location `url` names; SQLite lives in `dataDirectory`.
    public init(_ url: DatabaseURL, dataDirectory: String) {
        switch url {
        case .sqlite: self = .dataDirectory(dataDirectory)
        case .postgres(let location): self = .postgres(location)
        }
    }
}

/// The one seam between configuration and the backends: opens the set of stores for a location.
public enum StoreFactory {
    /// Whether stores exist at `location` (a command that only reads — an auditor's — must not create
    /// an empty data directory where it was pointed by mistake). A PostgreSQL database is checked when
    /// it is opened: its schema must be this binary's (`veil db migrate` makes it).
    public static func exists(_ location: StoreLocation) -> Bool {
        switch location {
        case .dataDirectory(let directory):
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(SQLiteStores.fileName))
        case .postgres:
            true
        }
    }

    /// Opens (SQLite: creating and migrating as needed) every store at `location`. Blocking open work
    /// runs off the cooperative pool.
    public static func open(_ location: StoreLocation, configuration: StoreConfiguration) async throws -> StoreSet {
        switch location {
        case .dataDirectory(let directory):
            return try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global(qos: .userInitiated).async {
                    continuation.resume(with: Result { try SQLiteStores.open(directory: directory, configuration: configuration) })
                }
            }
        case .postgres(let location):
            return try await PostgresStores.open(location, configuration: configuration)
        }
    }
}
