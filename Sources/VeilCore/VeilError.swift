/// The error every Veil layer throws for a condition a user can act on.
///
/// `message` is written for the person at the other end: it names the field, file or setting and the
/// rule that was broken, and says what to do. It never contains a raw user ID, a secret or any other
/// personal value — callers build messages from names and rules, not from the offending input.
public struct VeilError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; faces map it to an exit code or an HTTP status.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Sendable {
            case invalidInput = "invalid_input"
            case notFound = "not_found"
            case alreadyExists = "already_exists"
            case keyFile = "key_file"
            case crypto = "crypto"
            case budgetExceeded = "budget_exceeded"
            case forbidden = "forbidden"
            case unavailable = "unavailable"
            case integrity = "integrity"
            case tooLarge = "too_large"
            case conflict = "conflict"
            case `internal` = "internal"
        }

        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// Input breaks a rule (a field, an option, a policy value).
        public static let invalidInput = Code(.invalidInput)
        /// The thing asked for does not exist.
        public static let notFound = Code(.notFound)
        /// The thing to be created exists already and will not be overwritten.
        public static let alreadyExists = Code(.alreadyExists)
        /// A key file is missing, unreadable, badly encoded, of the wrong length or too permissive.
        public static let keyFile = Code(.keyFile)
        /// A cryptographic operation failed (authentication failure, bad key).
        public static let crypto = Code(.crypto)
        /// A privacy-budget cap would be passed.
        public static let budgetExceeded = Code(.budgetExceeded)
        /// The caller may not do this.
        public static let forbidden = Code(.forbidden)
        /// A dependency (the store, the disk) cannot do its part right now; retrying may help.
        public static let unavailable = Code(.unavailable)
        /// Stored data fails a check (a broken chain, a bad signature).
        public static let integrity = Code(.integrity)
        /// Input is past a size limit.
        public static let tooLarge = Code(.tooLarge)
        /// The change conflicts with what is stored (a store constraint refused it); nothing was written.
        public static let conflict = Code(.conflict)
        /// Something failed that the user cannot act on; `cause` (for the server log) says what.
        public static let `internal` = Code(.internal)

        /// A stable snake_case name for machine-readable output.
        public var description: String { kind.rawValue }
    }

    public let code: Code
    /// The field, option, file or setting concerned, when there is one.
    public let field: String?
    /// A human-readable explanation naming the rule; never contains personal data.
    public let message: String
    /// For the operator's log, never for a client: what failed underneath (e.g. a database result code
    /// and the operation), without any stored or submitted value. Not part of `description`.
    public let cause: String?

    public init(_ code: Code, field: String? = nil, _ message: String, cause: String? = nil) {
        self.code = code
        self.field = field
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let field { return "\(field): \(message)" }
        return message
    }
}
