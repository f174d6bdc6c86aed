import VeilCore

/// An import mapping bound to one CSV file's columns: for each event field, the expression that
/// computes it from a row's cells, with column names resolved to positions once.
struct RowMapping: Sendable {
    /// The fields the file gives, with how each is computed.
    let fields: [(field: EventField, expression: BoundExpression)]
    /// The free-form properties the file gives, by key, in key order.
    let properties: [(key: String, expression: BoundExpression)]
    /// The columns no field reads (not imported; listed in the report).
    let ignoredColumns: [String]
    /// The columns the user ID (and session ID) are read from: their values are never shown.
    let identifierColumns: Set<Int>
    /// The columns the type is read from.
    let typeColumns: Set<Int>

    /// Binds `mapping` to the columns `names`. A field the mapping does not map takes the column of its
    /// own name, unless a constant gives it or a field reads that column as it is. `headerless` says the
    /// names come from the mapping (they may then be listed in errors; a header row's cells may not, as
    /// the row could be a record).
    init(_ mapping: ImportMapping, columns names: [String], file: String, headerless: Bool) throws {
        var position: [String: Int] = [:]
        for (index, name) in names.enumerated() where position[name] == nil { position[name] = index }
        let plainSources = Set(mapping.fields.values.compactMap(\.plainColumn))
        var fields: [(EventField, BoundExpression)] = []
        for field in EventField.allCases {
            if let expression = mapping.fields[field] {
                do {
                    fields.append((field, try BoundExpression(expression, position: position)))
                } catch {
                    let origin = mapping.origins["fields.\(field.rawValue)"] ?? "--map"
                    let fix = headerless ? "columns names \(names.joined(separator: ", "))"
                        : "if the file has no header row, name its columns (columns: in a mapping file, or --columns)"
                    throw VeilError(
                        .invalidInput, field: "fields.\(field.rawValue)",
                        "\(error.rule) in the \(headerless ? "columns" : "header row") of \(file) (set at \(origin)); \(fix)")
                }
            } else if mapping.constants[field] == nil, let index = position[field.rawValue], !plainSources.contains(field.rawValue) {
                fields.append((field, BoundExpression(column: index, name: field.rawValue)))
            }
        }
        var properties: [(String, BoundExpression)] = []
        for (key, expression) in mapping.properties.sorted(by: { $0.key < $1.key }) {
            do {
                properties.append((key, try BoundExpression(expression, position: position)))
            } catch {
                let origin = mapping.origins["properties.\(key)"] ?? "--map"
                throw VeilError(
                    .invalidInput, field: "properties.\(key)", "\(error.rule) in the \(headerless ? "columns" : "header row") of \(file) (set at \(origin))")
            }
        }
        self.properties = properties
        // A first row without a user ID column is not a header (perhaps the file has none and this is a
        // record): refuse before any of its cells could be reported as column names.
        guard fields.contains(where: { $0.0 == .userID }) else {
            throw VeilError(
                .invalidInput, field: file,
                headerless
                    ? "no column gives user_id; map one (fields: user_id: COLUMN, or --map user_id=COLUMN)"
                    : "the header row (first non-blank line) has no user_id column; name one user_id, map it (--map user_id=COLUMN), or name the columns of a file without a header (--columns)")
        }
        let used = Set(fields.flatMap { $0.1.columns } + properties.flatMap { $0.1.columns })
        self.fields = fields
        ignoredColumns = names.indices.filter { !used.contains($0) }.map { names[$0] }
        identifierColumns = Set(fields.filter { $0.0 == .userID || $0.0 == .sessionID }.flatMap { $0.1.columns })
        typeColumns = Set(fields.filter { $0.0 == .type }.flatMap { $0.1.columns })
    }

    private static let numericFields: Set<EventField> = [.price, .quantity, .rating]

    /// The event a row's cells give, or the first field whose expression cannot be computed.
    func record(_ cells: [String]) -> ParsedRecord {
        var event = RawEvent()
        for (field, expression) in fields {
            let value: MappingValue
            do {
                value = try expression.evaluate(cells)
            } catch {
                return .malformed(EventProblemDraft(field: field.rawValue, message: "\(expression.source): \(error.rule)"))
            }
            switch value {
            case .missing: continue
            case .number(let number):
                event[field] = Self.numericFields.contains(field) ? EventJSONParser.number(number) : .string(MappingValue.text(of: number))
            case .text(let text):
                if Self.numericFields.contains(field), let number = DecimalText.value(text) {
                    event[field] = EventJSONParser.number(number)
                } else {
                    event[field] = .string(text)
                }
            }
        }
        for (key, expression) in properties {
            let value: MappingValue
            do {
                value = try expression.evaluate(cells)
            } catch {
                return .malformed(EventProblemDraft(field: "properties.\(key)", message: "\(expression.source): \(error.rule)"))
            }
            event.properties = .object
            switch value {
            case .missing: continue
            case .number(let number): event.propertyMembers.append((key, EventJSONParser.number(number)))
            case .text(let text): event.propertyMembers.append((key, DecimalText.value(text).map(EventJSONParser.number) ?? .string(text)))
            }
        }
        return .event(event)
    }
}

/// A value while an expression is computed: an empty cell is missing (and so is any arithmetic on it).
enum MappingValue: Sendable, Equatable {
    case missing
    case text(String)
    case number(Double)

    /// A number as text: whole numbers without a fraction, others in Swift's shortest exact form.
    static func text(of number: Double) -> String {
        if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }
}

/// Why an expression could not be computed for a row. Names columns and rules, never a cell's value.
struct EvaluationFailure: Error, Sendable {
    let rule: String
}

/// A `MappingExpression` with its columns resolved to positions in a row.
struct BoundExpression: Sendable {
    indirect enum Step: Sendable {
        case column(Int, name: String)
        case constant(MappingValue)
        case negate(Step)
        case binary(MappingExpression.Operator, Step, Step)
        case call(MappingExpression.Function, [Step])
    }

    let step: Step
    /// The expression as written, for problems.
    let source: String
    /// The positions of the columns it reads.
    let columns: [Int]

    /// Binds `expression`; throws naming the first column `position` does not have.
    init(_ expression: MappingExpression, position: [String: Int]) throws(MappingRuleError) {
        for name in expression.columns where position[name] == nil {
            throw MappingRuleError("the column \(name) is not")
        }
        func bind(_ node: MappingExpression.Node) -> Step {
            switch node {
            case .column(let name): .column(position[name]!, name: name)
            case .number(let value): .constant(.number(value))
            case .text(let value): .constant(value.isEmpty ? .missing : .text(value))
            case .negate(let inner): .negate(bind(inner))
            case .binary(let op, let left, let right): .binary(op, bind(left), bind(right))
            case .call(let function, let arguments): .call(function, arguments.map(bind))
            }
        }
        step = bind(expression.root)
        source = expression.source
        columns = expression.columns.map { position[$0]! }
    }

    /// An expression that reads column `index` as it is.
    init(column index: Int, name: String) {
        step = .column(index, name: name)
        source = MappingExpression.quotedIfNeeded(name)
        columns = [index]
    }

    func evaluate(_ cells: [String]) throws(EvaluationFailure) -> MappingValue {
        try Self.evaluate(step, cells)
    }

    private static func evaluate(_ step: Step, _ cells: [String]) throws(EvaluationFailure) -> MappingValue {
        switch step {
        case .column(let index, _):
            let cell = cells[index]
            return cell.isEmpty ? .missing : .text(cell)
        case .constant(let value):
            return value
        case .negate(let inner):
            guard let value = try number(inner, cells) else { return .missing }
            return .number(-value)
        case .binary(let op, let left, let right):
            guard let a = try number(left, cells), let b = try number(right, cells) else { return .missing }
            switch op {
            case .add: return .number(a + b)
            case .subtract: return .number(a - b)
            case .multiply: return .number(a * b)
            case .divide:
                guard b != 0 else {
                    throw EvaluationFailure(rule: "divides by zero (\(describe(right)) is 0)")
                }
                return .number(a / b)
            }
        case .call(.concat, let arguments):
            var text = ""
            for argument in arguments {
                switch try evaluate(argument, cells) {
                case .missing: continue
                case .text(let part): text += part
                case .number(let part): text += MappingValue.text(of: part)
                }
            }
            return text.isEmpty ? .missing : .text(text)
        case .call(.coalesce, let arguments):
            for argument in arguments {
                let value = try evaluate(argument, cells)
                if value != .missing { return value }
            }
            return .missing
        }
    }

    /// The numeric value of `step`; nil when it is missing.
    private static func number(_ step: Step, _ cells: [String]) throws(EvaluationFailure) -> Double? {
        switch try evaluate(step, cells) {
        case .missing: return nil
        case .number(let value): return value
        case .text(let text):
            guard let value = DecimalText.value(text) else {
                throw EvaluationFailure(rule: "\(describe(step)) is not a number")
            }
            return value
        }
    }

    /// How a problem names an operand: its column, or "a value" — never the cell's content.
    private static func describe(_ step: Step) -> String {
        if case .column(_, let name) = step { return "the column \(MappingExpression.quotedIfNeeded(name))" }
        return "an operand"
    }
}
