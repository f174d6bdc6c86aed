import Foundation
import VeilAudit
import VeilCore
import VeilStore

/// The audit chain as auditors fetch it (`veil audit export`, `GET /v1/audit`): the store's records in
/// the log file format (docs/audit.md), one line each — the bytes `audit.log` holds once it is up to
/// date, and what `scripts/verify_audit.py` verifies.
public struct AuditExport: Sendable {
    private let chain: any AuditChainStore

    public init(chain: any AuditChainStore) {
        self.chain = chain
    }

    /// Every record, or with `since` the records after seq `since`: appended to a copy that holds
    /// records 1…`since`, they give the whole chain again.
    public func bytes(since: UInt64? = nil) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        try await chain.forEachRecord(after: since ?? 0) { page in
            for record in page {
                bytes += Array(record.line.utf8)
                bytes.append(UInt8(ascii: "\n"))
            }
        }
        return bytes
    }
}
