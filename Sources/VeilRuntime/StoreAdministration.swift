import Foundation
import VeilCore
import VeilStore
import VeilStorePostgres
import VeilStoreSQLite

/// `veil db migrate` and `veil db status`: bring a store's schema up to date, or say where it stands,
/// for either backend (`DatabaseURL`).
///
/// SQLite migrates itself whenever a command opens it (one process owns the file). PostgreSQL is
/// shared by replicas running possibly different builds, so its schema changes only by an explicit
/// `veil db migrate`, and every other command refuses a schema that is not this binary's.
public enum StoreAdministration {
    /// Where a store's schema stands.
    public struct SchemaReport: Sendable, Codable, Equatable {
        /// `sqlite` or `postgresql`.
        public var backend: String
        /// The database, without any password.
        public var location: String
        /// The schema version the database is at; nil when it holds no Veil schema yet.
        public var version: Int?
        /// The version this binary needs.
        public var needed: Int
        /// The versions applied by this call (`migrate` only).
        public var applied: [Int]

        public var isCurrent: Bool { version == needed }
    }

    /// Applies every migration the store lacks.
    public static func migrate(_ url: DatabaseURL, dataDirectory: String) async throws -> SchemaReport {
        switch url {
        case .sqlite:
            let before = try SQLiteStores.appliedSchemaVersion(directory: dataDirectory) ?? 0
            let path = try SQLiteStores.migrate(directory: dataDirectory)
            let after = try SQLiteStores.appliedSchemaVersion(directory: dataDirectory) ?? 0
            return SchemaReport(
                backend: "sqlite", location: path, version: after, needed: SQLiteStores.schemaVersion,
                applied: Array((before + 1)..<(after + 1)))
        case .postgres(let location):
            let (database, applied) = try await VeilPostgresDatabase.migrate(location)
            database.close()
            let (version, needed) = try await VeilPostgresDatabase.schemaStatus(location)
            return SchemaReport(backend: "postgresql", location: location.description, version: version, needed: needed, applied: applied)
        }
    }

    /// The store's schema version against this binary's, changing nothing (a SQLite file that does not
    /// exist yet is reported at version nil, and not created). SQLite's version is the number of its
    /// applied migrations.
    public static func status(_ url: DatabaseURL, dataDirectory: String) async throws -> SchemaReport {
        switch url {
        case .sqlite:
            let path = (dataDirectory as NSString).appendingPathComponent(SQLiteStores.fileName)
            return SchemaReport(
                backend: "sqlite", location: path, version: try SQLiteStores.appliedSchemaVersion(directory: dataDirectory),
                needed: SQLiteStores.schemaVersion, applied: [])
        case .postgres(let location):
            let (version, needed) = try await VeilPostgresDatabase.schemaStatus(location)
            return SchemaReport(backend: "postgresql", location: location.description, version: version, needed: needed, applied: [])
        }
    }
}
