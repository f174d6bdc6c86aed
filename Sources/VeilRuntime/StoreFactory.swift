import Foundation
import VeilCore
import VeilStore
import VeilStoreSQLite

/// Where a deployment's stores live. Today: SQLite in the data directory. The PostgreSQL backend adds
/// its case here (from `--database-url`) and its branch in `StoreFactory.open`; nothing above this file
/// knows which backend runs.
public enum StoreLocation: Sendable, Equatable {
    /// `<directory>/veil.sqlite` and model artifacts in `<directory>/models`.
    case dataDirectory(String)
}

/// The one seam between configuration and the backends: opens the set of stores for a location.
public enum StoreFactory {
    /// Whether stores exist at `location` (a command that only reads — an auditor's — must not create
    /// an empty data directory where it was pointed by mistake).
    public static func exists(_ location: StoreLocation) -> Bool {
        switch location {
        case .dataDirectory(let directory):
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(SQLiteStores.fileName))
        }
    }

    /// Opens (creating and migrating as needed) every store at `location`. Blocking open work runs
    /// off the cooperative pool.
    public static func open(_ location: StoreLocation, configuration: StoreConfiguration) async throws -> StoreSet {
        switch location {
        case .dataDirectory(let directory):
            return try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global(qos: .userInitiated).async {
                    continuation.resume(with: Result { try SQLiteStores.open(directory: directory, configuration: configuration) })
                }
            }
        }
    }
}
