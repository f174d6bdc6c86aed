import Testing
import VeilStore
import VeilStoreContract
import VeilTestSupport

@testable import VeilStorePostgres

extension StoreBackend {
    /// PostgreSQL: a fresh database in this test process's throwaway cluster, migrated; each open is
    /// another replica's pool on it.
    static let postgres = StoreBackend(name: "postgresql") {
        let location = try await PostgresTestDatabase.fresh()
        let (database, _) = try await VeilPostgresDatabase.migrate(location)
        database.close()
        return StoreDeployment(
            open: { configuration in try await PostgresStores.open(location, configuration: configuration, maximumConnections: 6) },
            remove: { await PostgresTestDatabase.drop(location) })
    }
}

/// The store contract (`VeilStoreContract`), every case, on the PostgreSQL backend against a real
/// server. Skipped, saying why, only where PostgreSQL's binaries are not installed
/// (`scripts/install-deps.sh` installs them; CI runs it).
@Suite(.enabled(if: PostgresTestCluster.unavailableReason == nil, Comment(rawValue: PostgresTestCluster.unavailableReason ?? "")))
struct PostgresStoreContractTests {
    @Test(arguments: StoreContract.cases)
    func contract(_ check: StoreContractCase) async throws {
        try await check.run(on: .postgres)
    }
}
