/// A column expression of an import mapping: how one event field is computed from the cells of a row.
///
/// ```
/// expression := sum
/// sum        := product (("+" | "-") product)*
/// product    := unary (("*" | "/") unary)*
/// unary      := "-" unary | primary
/// primary    := number | text | column | function "(" expression ("," expression)* ")" | "(" expression ")"
/// number     := digits ["." digits] [("e" | "E") ["+" | "-"] digits]
/// text       := '"' characters ('""' or '\"' for a quote, '\\' for a backslash) '"'
/// column     := a name of letters, digits, "_" and "." not starting with a digit, or any name in `backquotes`
/// function   := concat | coalesce
/// ```
///
/// `price = amount / quantity` divides two columns; `concat(sku, "-", size)` joins text; `coalesce(user_id,
/// user_pseudo_id)` takes the first non-empty value. Bounded: at most `maxLength` bytes, `maxDepth`
/// levels of nesting and `maxArguments` arguments per call, so no mapping can exhaust the parser.
/// Errors name the position (1-based byte) and the rule; they quote only the expression, which is the
/// operator's own text, never a value read from a file.
public struct MappingExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    let root: Node
    /// The columns it reads, in order of first use.
    public let columns: [String]

    /// 1,024 bytes: a mapping line, not a program.
    public static let maxLength = 1_024
    /// 32 levels of parentheses, calls and unary minus.
    public static let maxDepth = 32
    /// Arguments of one `concat` or `coalesce`.
    public static let maxArguments = 64

    indirect enum Node: Sendable, Hashable {
        case column(String)
        case number(Double)
        case text(String)
        case negate(Node)
        case binary(Operator, Node, Node)
        case call(Function, [Node])
    }

    enum Operator: Character, Sendable, Hashable {
        case add = "+", subtract = "-", multiply = "*", divide = "/"
    }

    enum Function: String, Sendable, Hashable, CaseIterable {
        /// The texts of its arguments joined; empty arguments are left out, all empty is empty.
        case concat
        /// The first non-empty argument.
        case coalesce
    }

    public var description: String { source }

    /// Parses `source`; throws `MappingRuleError` naming the position and the rule.
    public init(_ source: String) throws(MappingRuleError) {
        guard source.utf8.count <= Self.maxLength else {
            throw MappingRuleError("is longer than \(Self.maxLength) bytes; an expression is one short line")
        }
        var parser = Parser(Array(source.utf8))
        let root = try parser.parseExpression()
        parser.skipSpaces()
        guard parser.atEnd else {
            let rule = "expected an operator (+ - * /), a comma or the end of the expression"
            // `user_id:token` (RecBole's typed headers) written bare stops right after `user_id`.
            throw parser.failure(parser.followsBareName ? rule + "; " + Self.backquoteAdvice : rule)
        }
        self.source = source
        self.root = root
        var columns: [String] = []
        Self.collectColumns(root, into: &columns)
        self.columns = columns
    }

    /// An expression that reads one column as it is.
    public init(column name: String) {
        source = Self.quotedIfNeeded(name)
        root = .column(name)
        columns = [name]
    }

    /// The column this expression reads as it is, if it is only a column reference.
    public var plainColumn: String? {
        if case .column(let name) = root { return name }
        return nil
    }

    /// `name` as written in an expression: bare when it is a plain name, else in backquotes.
    static func quotedIfNeeded(_ name: String) -> String {
        Parser.isPlainName(Array(name.utf8)) ? name : "`" + name + "`"
    }

    private static func collectColumns(_ node: Node, into columns: inout [String]) {
        switch node {
        case .column(let name): if !columns.contains(name) { columns.append(name) }
        case .number, .text: break
        case .negate(let inner): collectColumns(inner, into: &columns)
        case .binary(_, let left, let right):
            collectColumns(left, into: &columns)
            collectColumns(right, into: &columns)
        case .call(_, let arguments): for argument in arguments { collectColumns(argument, into: &columns) }
        }
    }

    /// What a syntax error says where a column name may have been written without its backquotes.
    static let backquoteAdvice = "a column name with other characters goes in `backquotes`"

    /// A recursive-descent parser over the expression's bytes, with a depth bound.
    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }

        func failure(_ rule: String) -> MappingRuleError {
            atEnd ? MappingRuleError("ends too early: \(rule)") : MappingRuleError("at position \(index + 1): \(rule)")
        }

        /// Whether the bytes just before the position are a bare column name (a name's characters,
        /// starting as a name does), with nothing between it and the position.
        var followsBareName: Bool {
            var start = index
            while start > 0, Self.isNameByte(bytes[start - 1]) { start -= 1 }
            return start < index && Self.isNameStart(bytes[start])
        }

        mutating func skipSpaces() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            skipSpaces()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func descend() throws(MappingRuleError) {
            depth += 1
            guard depth <= MappingExpression.maxDepth else {
                throw failure("nests deeper than \(MappingExpression.maxDepth) levels")
            }
        }

        mutating func parseExpression() throws(MappingRuleError) -> Node {
            try descend()
            defer { depth -= 1 }
            var left = try parseProduct()
            while true {
                if take(UInt8(ascii: "+")) {
                    left = .binary(.add, left, try parseProduct())
                } else if take(UInt8(ascii: "-")) {
                    left = .binary(.subtract, left, try parseProduct())
                } else {
                    return left
                }
            }
        }

        mutating func parseProduct() throws(MappingRuleError) -> Node {
            var left = try parseUnary()
            while true {
                if take(UInt8(ascii: "*")) {
                    left = .binary(.multiply, left, try parseUnary())
                } else if take(UInt8(ascii: "/")) {
                    left = .binary(.divide, left, try parseUnary())
                } else {
                    return left
                }
            }
        }

        mutating func parseUnary() throws(MappingRuleError) -> Node {
            if take(UInt8(ascii: "-")) {
                try descend()
                defer { depth -= 1 }
                return .negate(try parseUnary())
            }
            return try parsePrimary()
        }

        mutating func parsePrimary() throws(MappingRuleError) -> Node {
            skipSpaces()
            guard index < bytes.count else {
                throw failure("expected a column name, a number, \"text\" or (")
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "(") {
                index += 1
                let inner = try parseExpression()
                guard take(UInt8(ascii: ")")) else { throw failure("expected ) to close the ( before it") }
                return inner
            }
            if byte == UInt8(ascii: "\"") { return .text(try parseText()) }
            if byte == UInt8(ascii: "`") { return .column(try parseQuotedName()) }
            if Self.isDigit(byte) || byte == UInt8(ascii: ".") { return .number(try parseNumber()) }
            if Self.isNameStart(byte) {
                let start = index
                while index < bytes.count, Self.isNameByte(bytes[index]) { index += 1 }
                let name = String(decoding: bytes[start..<index], as: UTF8.self)
                let afterName = index
                if take(UInt8(ascii: "(")) {
                    guard let function = Function(rawValue: name) else {
                        index = start
                        let known = Function.allCases.map(\.rawValue).joined(separator: ", ")
                        throw failure("\(name)( is not a function; the functions are \(known)")
                    }
                    return .call(function, try parseArguments())
                }
                index = afterName
                return .column(name)
            }
            throw failure("expected a column name, a number, \"text\" or (; " + MappingExpression.backquoteAdvice)
        }

        mutating func parseArguments() throws(MappingRuleError) -> [Node] {
            try descend()
            defer { depth -= 1 }
            var arguments: [Node] = []
            repeat {
                guard arguments.count < MappingExpression.maxArguments else {
                    throw failure("a call takes at most \(MappingExpression.maxArguments) arguments")
                }
                arguments.append(try parseExpression())
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: ")")) else { throw failure("expected , or ) in the argument list") }
            return arguments
        }

        mutating func parseText() throws(MappingRuleError) -> String {
            index += 1  // the opening quote
            var value: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                        value.append(byte)
                        index += 2
                        continue
                    }
                    index += 1
                    return String(decoding: value, as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\"), index + 1 < bytes.count,
                    bytes[index + 1] == UInt8(ascii: "\"") || bytes[index + 1] == UInt8(ascii: "\\")
                {
                    value.append(bytes[index + 1])
                    index += 2
                    continue
                }
                value.append(byte)
                index += 1
            }
            throw failure("a \"text\" is not closed with \"")
        }

        mutating func parseQuotedName() throws(MappingRuleError) -> String {
            let open = index
            index += 1
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "`") { index += 1 }
            guard index < bytes.count else {
                index = open
                throw failure("a `column name` is not closed with `")
            }
            let name = String(decoding: bytes[start..<index], as: UTF8.self)
            index += 1
            guard !name.isEmpty else {
                index = open
                throw failure("`` names no column")
            }
            return name
        }

        mutating func parseNumber() throws(MappingRuleError) -> Double {
            let start = index
            guard let end = DecimalText.end(of: bytes, from: index), let value = DecimalText.value(bytes[start..<end]) else {
                throw failure("expected a number such as 12, 0.5 or 1e3")
            }
            index = end
            return value
        }

        static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }
        static func isNameStart(_ byte: UInt8) -> Bool {
            (byte | 0x20) &- UInt8(ascii: "a") < 26 || byte == UInt8(ascii: "_")
        }
        static func isNameByte(_ byte: UInt8) -> Bool {
            isNameStart(byte) || isDigit(byte) || byte == UInt8(ascii: ".")
        }
        static func isPlainName(_ bytes: [UInt8]) -> Bool {
            guard let first = bytes.first, isNameStart(first) else { return false }
            let name = String(decoding: bytes, as: UTF8.self)
            return bytes.allSatisfy(isNameByte) && Function(rawValue: name) == nil
        }
    }
}

/// A broken rule of a mapping setting, before it is known where the setting came from (a mapping file's
/// key and line, or a command-line flag): the caller names that.
public struct MappingRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    public let rule: String
    public init(_ rule: String) { self.rule = rule }
    public var description: String { rule }
}

/// Decimal numbers as mappings and CSV cells write them: `[+|-]digits[.digits][(e|E)[+|-]digits]` (or
/// `.5`), nothing else — no `inf`, `nan`, hex or thousands separators.
enum DecimalText {
    /// The end of the decimal number starting at `start` (sign included), or nil when none starts there.
    static func end(of bytes: [UInt8], from start: Int) -> Int? {
        bytes.withUnsafeBufferPointer { end(of: $0, from: start, to: $0.count) }
    }

    static func end(of bytes: UnsafeBufferPointer<UInt8>, from start: Int, to limit: Int) -> Int? {
        var index = start
        if index < limit, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
        var digits = 0
        while index < limit, bytes[index] &- UInt8(ascii: "0") < 10 { index += 1; digits += 1 }
        if index < limit, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < limit, bytes[index] &- UInt8(ascii: "0") < 10 { index += 1; digits += 1 }
        }
        guard digits > 0 else { return nil }
        if index < limit, bytes[index] | 0x20 == UInt8(ascii: "e") {
            var exponent = index + 1
            if exponent < limit, bytes[exponent] == UInt8(ascii: "+") || bytes[exponent] == UInt8(ascii: "-") { exponent += 1 }
            let first = exponent
            while exponent < limit, bytes[exponent] &- UInt8(ascii: "0") < 10 { exponent += 1 }
            if exponent > first { index = exponent }
        }
        return index
    }

    /// The value of `text` when all of it is one decimal number (finite or not: 1e400 is +inf).
    static func value(_ text: String) -> Double? {
        let count = text.utf8.count
        let whole =
            text.utf8.withContiguousStorageIfAvailable { end(of: $0, from: 0, to: $0.count) == count }
            ?? (end(of: Array(text.utf8), from: 0) == count)
        return whole ? Double(text) : nil
    }

    static func value(_ bytes: ArraySlice<UInt8>) -> Double? {
        Double(String(decoding: bytes, as: UTF8.self))
    }
}
