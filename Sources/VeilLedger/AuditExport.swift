import Foundation
import VeilAudit
import VeilCore

/// The audit log as auditors fetch it (`veil audit export`, `GET /v1/audit`): the bytes of
/// `<data-dir>/audit.log`, exactly as stored.
public struct AuditExport: Sendable {
    /// The log file.
    public let path: String

    /// The log at `path` (`veil audit export --file`).
    public init(path: String) {
        self.path = path
    }

    /// The log of a data directory (`<dataDirectory>/audit.log`).
    public init(dataDirectory: String) {
        self.init(path: AuditLog.path(dataDirectory: dataDirectory))
    }

    /// The log's bytes, read under a shared lock (never a half-written line).
    ///
    /// With `since`, a byte-exact suffix of the file: from the first line that is not a well-formed
    /// record with seq ≤ `since` to the end. Appended to a copy that holds records 1…`since`, it gives
    /// the whole log again; a damaged line is never skipped, so the verifier still sees it.
    public func bytes(since: UInt64? = nil) throws -> [UInt8] {
        let bytes = try AuditLog.contents(path: path)
        guard let since, since > 0 else { return bytes }
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            guard let seq = Self.seq(of: bytes[start..<end]), seq <= since else { break }
            start = end == bytes.endIndex ? end : end + 1
        }
        return Array(bytes[start...])
    }

    /// The seq of one well-formed line, or nil.
    private static func seq(of line: ArraySlice<UInt8>) -> UInt64? {
        guard case .success(let parsed) = AuditLine.parse(String(decoding: line, as: UTF8.self)),
            case .success(let body) = AuditBody.parse(parsed.body)
        else { return nil }
        return body.seq
    }
}
