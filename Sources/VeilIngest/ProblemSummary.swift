import VeilCore

/// Invalid events grouped by the rule they broke — what a person can act on when a file or batch has
/// thousands of problems: each rule once, how often, where first; and the distinct unknown values of the
/// type field, which usually say which mapping is missing. The CLI (`veil ingest`, `veil push`) and the
/// gateway's 422 answers show the same summary.
///
/// Never holds a value of any field but `type`, and not even those when they could be something else:
/// a type value is listed only if it looks like an event name (at most 64 bytes of letters, digits,
/// spaces and `_ . : / -`) and, on import, only if the type is not read from a column the user or
/// session ID is read from.
public struct ProblemSummary: Sendable, Codable, Equatable {
    /// One group per (field, rule), in order of first appearance.
    public var groups: [ProblemGroup]
    /// Distinct unknown type values, most frequent first (at most `ProblemTally.shownValues`).
    public var unknownTypes: [ValueCount]
    /// Records with an unknown type value that is not listed (past the limit, or not shown, see above).
    public var unknownTypesNotShown: Int
    /// Problems of rules past the `ProblemTally.maxGroups` first ones, not grouped.
    public var ungrouped: Int

    public init(groups: [ProblemGroup] = [], unknownTypes: [ValueCount] = [], unknownTypesNotShown: Int = 0, ungrouped: Int = 0) {
        self.groups = groups
        self.unknownTypes = unknownTypes
        self.unknownTypesNotShown = unknownTypesNotShown
        self.ungrouped = ungrouped
    }

    enum CodingKeys: String, CodingKey {
        case groups, ungrouped
        case unknownTypes = "unknown_types"
        case unknownTypesNotShown = "unknown_types_not_shown"
    }
}

/// Every problem of one rule: the field, the rule, how many, the first three places, and (on import) a
/// hint at the mapping setting that would fix it.
public struct ProblemGroup: Sendable, Codable, Equatable {
    public var field: String
    public var message: String
    public var count: Int
    /// The first three line numbers (import) or 0-based batch positions (HTTP).
    public var first: [Int]
    public var hint: String?

    public init(field: String, message: String, count: Int, first: [Int], hint: String? = nil) {
        self.field = field
        self.message = message
        self.count = count
        self.first = first
        self.hint = hint
    }
}

/// A value and how many records had it.
public struct ValueCount: Sendable, Codable, Equatable {
    public var value: String
    public var count: Int

    public init(value: String, count: Int) {
        self.value = value
        self.count = count
    }
}

/// Collects problems into a `ProblemSummary` as they are found; tallies of consecutive parts of a file
/// (validation segments) merge in order.
struct ProblemTally: Sendable {
    /// The most rules grouped; problems of further rules are counted as `ungrouped`.
    static let maxGroups = 200
    /// Places kept per group.
    static let placesPerGroup = 3
    /// Distinct unknown type values counted (further ones only counted as not shown).
    static let maxValues = 1_000
    /// Distinct unknown type values listed in a summary.
    static let shownValues = 20

    private struct Key: Hashable {
        var field: String
        var message: String
    }

    private var order: [Key] = []
    private var groups: [Key: (count: Int, first: [Int])] = [:]
    private var ungrouped = 0
    private var values: [String: Int] = [:]
    /// Records whose unknown type value is not counted by value (hidden, or past `maxValues`).
    private var otherValues = 0
    /// Whether unknown type values may be listed at all.
    let showsTypeValues: Bool

    init(showsTypeValues: Bool) { self.showsTypeValues = showsTypeValues }

    var isEmpty: Bool { order.isEmpty && ungrouped == 0 }

    /// Notes the problems of `record` at `place`. Its type value is listed only if it looks like an event
    /// name and is not the record's own user or session ID (a file whose ID column was mapped to `type`,
    /// or a client that put the user in the type field, would otherwise have its IDs echoed).
    mutating func add(_ drafts: [EventProblemDraft], at place: Int, record: ParsedRecord) {
        var type: String?
        if case .event(let event) = record, case .string(let value)? = event.type {
            let identifiers = [event.userID, event.sessionID].compactMap { identifier -> String? in
                if case .string(let text)? = identifier { return text }
                return nil
            }
            if !identifiers.contains(value) { type = value }
        }
        add(drafts, at: place, type: type)
    }

    /// Notes problems at `place`; `type` is the type value that may be listed, nil when there is none or
    /// it may not be shown.
    private mutating func add(_ drafts: [EventProblemDraft], at place: Int, type: String?) {
        for draft in drafts {
            let key = Key(field: draft.field, message: draft.message)
            if var group = groups[key] {
                group.count += 1
                if group.first.count < Self.placesPerGroup { group.first.append(place) }
                groups[key] = group
            } else if order.count < Self.maxGroups {
                order.append(key)
                groups[key] = (1, [place])
            } else {
                ungrouped += 1
            }
            if draft.field == EventField.type.rawValue, draft.message == EventValidator.unknownTypeRule {
                noteUnknownType(type)
            }
        }
    }

    private mutating func noteUnknownType(_ value: String?) {
        if showsTypeValues, let value, Self.looksLikeEventName(value), let count = values[value] {
            values[value] = count + 1
        } else if showsTypeValues, let value, Self.looksLikeEventName(value), values.count < Self.maxValues {
            values[value] = 1
        } else {
            otherValues += 1
        }
    }

    /// Adds the tally of the part of the file after this one.
    mutating func merge(_ later: ProblemTally) {
        for key in later.order {
            let other = later.groups[key]!
            if var group = groups[key] {
                group.count += other.count
                group.first = Array((group.first + other.first).prefix(Self.placesPerGroup))
                groups[key] = group
            } else if order.count < Self.maxGroups {
                order.append(key)
                groups[key] = other
            } else {
                ungrouped += other.count
            }
        }
        ungrouped += later.ungrouped
        for (value, count) in later.values {
            if let mine = values[value] {
                values[value] = mine + count
            } else if values.count < Self.maxValues {
                values[value] = count
            } else {
                otherValues += count
            }
        }
        otherValues += later.otherValues
    }

    /// The summary, with `hint` asked for each group.
    func summary(hint: (ProblemGroup) -> String? = { _ in nil }) -> ProblemSummary {
        let groups = order.map { key in
            var group = ProblemGroup(field: key.field, message: key.message, count: self.groups[key]!.count, first: self.groups[key]!.first)
            group.hint = hint(group)
            return group
        }
        let sorted = values.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
        let shown = sorted.prefix(Self.shownValues).map { ValueCount(value: $0.key, count: $0.value) }
        let notShown = otherValues + sorted.dropFirst(Self.shownValues).reduce(0) { $0 + $1.value }
        return ProblemSummary(groups: groups, unknownTypes: shown, unknownTypesNotShown: notShown, ungrouped: ungrouped)
    }

    /// At most 64 bytes of ASCII letters, digits, spaces and `_ . : / -`: a page or event name, not an
    /// e-mail address, a token or free text.
    static func looksLikeEventName(_ value: String) -> Bool {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        return bytes.allSatisfy { byte in
            (byte | 0x20) &- UInt8(ascii: "a") < 26 || byte &- UInt8(ascii: "0") < 10
                || [UInt8(ascii: " "), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "-")].contains(byte)
        }
    }
}
