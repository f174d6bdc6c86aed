import VeilCore

/// The first record that fails verification, and why.
public struct AuditFailure: Sendable, Hashable, Encodable {
    /// The 1-based line of the log, or nil when the failure concerns no line (a bad checkpoint).
    public let line: Int?
    /// The record's seq as written in it when readable, otherwise the seq expected at that line.
    public let seq: UInt64?
    public let reason: String

    public init(line: Int?, seq: UInt64?, reason: String) {
        self.line = line
        self.seq = seq
        self.reason = reason
    }
}

/// Whether the cumulative ε of spend records was recomputed.
public struct EpsilonCheck: Sendable, Hashable, Encodable {
    /// False when no accountant was supplied; the spends were then not recomputed.
    public let performed: Bool
    /// Spend records whose `cumulative_epsilon` matched the recomputation.
    public let spendsChecked: Int
    public let note: String

    enum CodingKeys: String, CodingKey {
        case performed, note
        case spendsChecked = "spends_checked"
    }
}

/// The result of `AuditVerifier.verify`: how far the log verified and the first failure, if any.
public struct AuditVerification: Sendable, Hashable, Encodable {
    /// Records that passed every check (all of them when `isValid`).
    public let recordsChecked: Int
    /// The last record that passed (`AuditHead.empty` when none did).
    public let head: AuditHead
    public let failure: AuditFailure?
    public let epsilon: EpsilonCheck
    /// Whether private models' `model.train` records were linked to the spends that paid for them.
    public let linkage: LinkageCheck
    /// The seq of the checkpoint the log was checked against, if one was given.
    public let checkpointSeq: UInt64?

    public var isValid: Bool { failure == nil }

    enum CodingKeys: String, CodingKey {
        case valid, failure, epsilon, linkage
        case recordsChecked = "records_checked"
        case headSeq = "head_seq"
        case headHash = "head_hash"
        case checkpointSeq = "checkpoint_seq"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(isValid, forKey: .valid)
        try container.encode(recordsChecked, forKey: .recordsChecked)
        try container.encode(head.seq, forKey: .headSeq)
        try container.encode(head.hashHex, forKey: .headHash)
        try container.encodeIfPresent(failure, forKey: .failure)
        try container.encode(epsilon, forKey: .epsilon)
        try container.encode(linkage, forKey: .linkage)
        try container.encodeIfPresent(checkpointSeq, forKey: .checkpointSeq)
    }
}
