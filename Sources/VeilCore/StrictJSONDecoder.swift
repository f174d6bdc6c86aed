/// Decodes `Decodable` values from JSON parsed by `JSONNode.parse`, refusing what Foundation's
/// `JSONDecoder` lets through: nesting past the limits (it recurses), a key given twice, and keys
/// the type never asks for.
///
/// Contract of `decode`:
/// - a text that is not JSON, or breaks `limits`, throws `JSONSyntaxError`;
/// - a missing or mistyped field throws `DecodingError` with the coding path, as `JSONDecoder` does;
///   a number out of the target type's range (or not a whole number for an integer) is
///   `.dataCorrupted`;
/// - after the value decoded, any object member whose key the type never asked for (by `decode`,
///   `decodeIfPresent`, `decodeNil` or `contains`) throws `UnknownJSONField` naming where the object is and
///   the member's position in it — never the key's text, which may be personal data.
public struct StrictJSONDecoder: Sendable {
    public var limits: JSONLimits

    public init(limits: JSONLimits) { self.limits = limits }

    public func decode<Value: Decodable>(_ type: Value.Type, from bytes: some Collection<UInt8>) throws -> Value {
        try decode(type, from: try JSONNode.parse(bytes, limits: limits))
    }

    /// Decodes from an already parsed document.
    public func decode<Value: Decodable>(_ type: Value.Type, from node: JSONNode) throws -> Value {
        let tracker = FieldTracker()
        let value = try Value(from: NodeDecoder(node: node, codingPath: [], tracker: tracker))
        if let unknown = tracker.firstUnknownField() { throw unknown }
        return value
    }
}

/// A member of a JSON object whose key the decoded type does not know.
public struct UnknownJSONField: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the object is: `body` for the top level, else a path such as `subjects[1]`.
    public let object: String
    /// 1-based position of the member among the object's members.
    public let position: Int
    /// The keys the type knows there, sorted.
    public let known: [String]

    public var description: String {
        "\(object): field #\(position) is not a known field; the fields are \(known.joined(separator: ", "))"
    }
}

/// `subjects[2].user_id` for a coding path; `body` for the empty path.
public enum CodingPathText {
    public static func describe(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "body" : text
    }
}

/// Which keys of each object the type asked for, to find the members it ignored.
private final class FieldTracker {
    private struct Visited {
        let path: String
        let keys: [String]
        var asked: Set<String>
    }

    private var objects: [Visited] = []
    private var index: [String: Int] = [:]

    func asked(_ key: String, inObjectAt path: String, keys: [String]) {
        if let slot = index[path] {
            objects[slot].asked.insert(key)
        } else {
            index[path] = objects.count
            objects.append(Visited(path: path, keys: keys, asked: [key]))
        }
    }

    func visited(objectAt path: String, keys: [String]) {
        guard index[path] == nil else { return }
        index[path] = objects.count
        objects.append(Visited(path: path, keys: keys, asked: []))
    }

    func firstUnknownField() -> UnknownJSONField? {
        for object in objects {
            if let position = object.keys.firstIndex(where: { !object.asked.contains($0) }) {
                return UnknownJSONField(object: object.path, position: position + 1, known: object.asked.sorted())
            }
        }
        return nil
    }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { String(intValue ?? 0) }
    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

private struct NodeDecoder: Decoder {
    let node: JSONNode
    let codingPath: [any CodingKey]
    let tracker: FieldTracker
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = node else {
            throw DecodingError.typeMismatch(
                [String: Any].self, .init(codingPath: codingPath, debugDescription: "expected an object, found \(node.kind)"))
        }
        let path = CodingPathText.describe(codingPath)
        tracker.visited(objectAt: path, keys: members.map(\.key))
        return KeyedDecodingContainer(KeyedNodeContainer<Key>(members: members, path: path, codingPath: codingPath, tracker: tracker))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = node else {
            throw DecodingError.typeMismatch(
                [Any].self, .init(codingPath: codingPath, debugDescription: "expected an array, found \(node.kind)"))
        }
        return UnkeyedNodeContainer(elements: elements, codingPath: codingPath, tracker: tracker)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleNodeContainer(node: node, codingPath: codingPath, tracker: tracker)
    }
}

/// Conversions of one node to the primitive types, with `DecodingError`s that carry the path.
private enum Primitive {
    static func mismatch<T>(_ type: T.Type, _ node: JSONNode, _ path: [any CodingKey]) -> DecodingError {
        .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found \(node.kind)"))
    }

    static func corrupted(_ path: [any CodingKey], _ rule: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: path, debugDescription: rule))
    }

    static func bool(_ node: JSONNode, _ path: [any CodingKey]) throws -> Bool {
        guard case .bool(let value) = node else { throw mismatch(Bool.self, node, path) }
        return value
    }

    static func string(_ node: JSONNode, _ path: [any CodingKey]) throws -> String {
        guard case .string(let value) = node else { throw mismatch(String.self, node, path) }
        return value
    }

    static func double(_ node: JSONNode, _ path: [any CodingKey]) throws -> Double {
        guard case .number(let text) = node else { throw mismatch(Double.self, node, path) }
        guard let value = Double(text), value.isFinite else { throw corrupted(path, "the number is out of range") }
        return value
    }

    static func integer<T: FixedWidthInteger>(_ type: T.Type, _ node: JSONNode, _ path: [any CodingKey]) throws -> T {
        guard case .number(let text) = node else { throw mismatch(type, node, path) }
        if let exact = T(text) { return exact }
        // 1e3 or 2.0: a whole number written another way.
        guard let value = Double(text), value.isFinite, value == value.rounded(), let exact = T(exactly: value) else {
            throw corrupted(path, "must be a whole number in the range of \(type)")
        }
        return exact
    }

    static func decode<T: Decodable>(_ type: T.Type, _ node: JSONNode, _ path: [any CodingKey], _ tracker: FieldTracker) throws -> T {
        try T(from: NodeDecoder(node: node, codingPath: path, tracker: tracker))
    }
}

private struct KeyedNodeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [JSONMember]
    let path: String
    let codingPath: [any CodingKey]
    let tracker: FieldTracker

    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }

    private func keyNames() -> [String] { members.map(\.key) }

    func contains(_ key: Key) -> Bool {
        tracker.asked(key.stringValue, inObjectAt: path, keys: keyNames())
        return members.contains { $0.key == key.stringValue }
    }

    private func node(_ key: Key) throws -> JSONNode {
        tracker.asked(key.stringValue, inObjectAt: path, keys: keyNames())
        guard let member = members.first(where: { $0.key == key.stringValue }) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "is required"))
        }
        return member.value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try node(key) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try Primitive.bool(node(key), codingPath + [key]) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try Primitive.string(node(key), codingPath + [key]) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try Primitive.double(node(key), codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try Primitive.double(node(key), codingPath + [key])) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try Primitive.integer(type, node(key), codingPath + [key]) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try Primitive.decode(type, node(key), codingPath + [key], tracker)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: node(key), codingPath: codingPath + [key], tracker: tracker).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try NodeDecoder(node: node(key), codingPath: codingPath + [key], tracker: tracker).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "super decoders are not supported"))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        NodeDecoder(node: try node(key), codingPath: codingPath + [key], tracker: tracker)
    }
}

private struct UnkeyedNodeContainer: UnkeyedDecodingContainer {
    let elements: [JSONNode]
    let codingPath: [any CodingKey]
    let tracker: FieldTracker
    private(set) var currentIndex = 0

    init(elements: [JSONNode], codingPath: [any CodingKey], tracker: FieldTracker) {
        self.elements = elements
        self.codingPath = codingPath
        self.tracker = tracker
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next() throws -> (JSONNode, [any CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                Any.self, .init(codingPath: codingPath + [IndexKey(intValue: currentIndex)], debugDescription: "the array has ended"))
        }
        defer { currentIndex += 1 }
        return (elements[currentIndex], codingPath + [IndexKey(intValue: currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { let (n, p) = try next(); return try Primitive.bool(n, p) }
    mutating func decode(_ type: String.Type) throws -> String { let (n, p) = try next(); return try Primitive.string(n, p) }
    mutating func decode(_ type: Double.Type) throws -> Double { let (n, p) = try next(); return try Primitive.double(n, p) }
    mutating func decode(_ type: Float.Type) throws -> Float { let (n, p) = try next(); return Float(try Primitive.double(n, p)) }
    mutating func decode(_ type: Int.Type) throws -> Int { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { let (n, p) = try next(); return try Primitive.integer(type, n, p) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = try next()
        return try Primitive.decode(type, node, path, tracker)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (node, path) = try next()
        return try NodeDecoder(node: node, codingPath: path, tracker: tracker).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (node, path) = try next()
        return try NodeDecoder(node: node, codingPath: path, tracker: tracker).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (node, path) = try next()
        return NodeDecoder(node: node, codingPath: path, tracker: tracker)
    }
}

private struct SingleNodeContainer: SingleValueDecodingContainer {
    let node: JSONNode
    let codingPath: [any CodingKey]
    let tracker: FieldTracker

    func decodeNil() -> Bool { node == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try Primitive.bool(node, codingPath) }
    func decode(_ type: String.Type) throws -> String { try Primitive.string(node, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try Primitive.double(node, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { Float(try Primitive.double(node, codingPath)) }
    func decode(_ type: Int.Type) throws -> Int { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try Primitive.integer(type, node, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try Primitive.integer(type, node, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try Primitive.decode(type, node, codingPath, tracker) }
}
