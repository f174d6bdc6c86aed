import Foundation
import VeilCore

extension ItemVocabulary {
    /// The policy key errors about a catalogue name.
    public static let catalogField = "catalog.items_file"
    /// The largest catalogue read (64 MiB).
    public static let maxCatalogBytes = 64 << 20
    /// The most items a catalogue may list.
    public static let maxCatalogItems = 100_000
    /// The longest item ID (bytes of UTF-8), as at ingest.
    public static let maxItemIDBytes = 200

    /// The vocabulary a public catalogue lists, in file order: CSV text with the header `item_id` or
    /// `item_id,category`, then one item per line (`\n` or `\r\n`; a final newline is optional).
    ///
    /// Rules, each refused with `VeilError.invalidInput`, field `catalog.items_file` and the line number —
    /// never the value, since a catalogue entry may be anything: UTF-8 text; the header exactly as above;
    /// every line with the header's number of columns; no quotes (item IDs and categories are plain);
    /// an item ID non-empty, at most `maxItemIDBytes` bytes, without surrounding spaces or control
    /// characters, listed once; a category one of `categories` (the policy's); at least one and at most
    /// `maxCatalogItems` items.
    public init(catalogCSV data: Data, categories policyCategories: [String]) throws {
        func fail(_ line: Int?, _ rule: String) -> VeilError {
            VeilError(.invalidInput, field: Self.catalogField, line.map { "line \($0): \(rule)" } ?? rule)
        }
        guard data.count <= Self.maxCatalogBytes else {
            throw fail(nil, "the catalogue is larger than \(Self.maxCatalogBytes >> 20) MiB")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw fail(nil, "the catalogue must be UTF-8 text") }
        // "\r\n" is one Character in Swift, so it is a separator of its own.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first else { throw fail(1, "the catalogue is empty; it needs the header item_id[,category]") }
        let hasCategory: Bool
        switch header {
        case "item_id": hasCategory = false
        case "item_id,category": hasCategory = true
        default: throw fail(1, "the header must be item_id or item_id,category")
        }
        guard lines.count >= 2 else { throw fail(nil, "the catalogue lists no item") }
        guard lines.count - 1 <= Self.maxCatalogItems else {
            throw fail(nil, "the catalogue lists more than \(Self.maxCatalogItems) items")
        }
        let known = Set(policyCategories)
        var items: [String] = []
        var categories: [String?] = []
        var seen = Set<Substring>()
        items.reserveCapacity(lines.count - 1)
        for (offset, line) in lines.enumerated().dropFirst() {
            let number = offset + 1
            guard !line.contains("\"") else { throw fail(number, "quotes are not allowed; item IDs and categories are plain text") }
            let columns = line.split(separator: ",", omittingEmptySubsequences: false)
            guard columns.count == (hasCategory ? 2 : 1) else {
                throw fail(number, "must have \(hasCategory ? 2 : 1) column\(hasCategory ? "s" : "") like the header")
            }
            let item = columns[0]
            guard !item.isEmpty, item.utf8.count <= Self.maxItemIDBytes,
                item.first?.isWhitespace == false, item.last?.isWhitespace == false,
                !item.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
            else {
                throw fail(
                    number,
                    "item_id must be 1 to \(Self.maxItemIDBytes) bytes without surrounding spaces or control characters")
            }
            guard seen.insert(item).inserted else { throw fail(number, "item_id repeats an earlier line's; list each item once") }
            items.append(String(item))
            if hasCategory {
                let category = String(columns[1])
                guard known.contains(category) else {
                    throw fail(number, "category must be one of the policy's categories (\(policyCategories.joined(separator: ", ")))")
                }
                categories.append(category)
            } else {
                categories.append(nil)
            }
        }
        try self.init(items: items, categories: categories)
    }
}
