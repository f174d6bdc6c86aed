import Testing
import VeilStoreContract

/// The store contract (`VeilStoreContract`), every case, on the SQLite backend.
@Suite struct SQLiteStoreContractTests {
    @Test(arguments: StoreContract.cases)
    func contract(_ check: StoreContractCase) async throws {
        try await check.run(on: .sqlite)
    }
}
