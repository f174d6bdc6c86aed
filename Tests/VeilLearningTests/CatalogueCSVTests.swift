import Foundation
import Testing
import VeilCore
@testable import VeilLearning

/// `ItemVocabulary(catalogCSV:categories:)`: the public catalogue a policy names.
@Suite struct CatalogueCSVTests {
    static let categories = ["books", "toys"]

    static func vocabulary(_ text: String) throws -> ItemVocabulary {
        try ItemVocabulary(catalogCSV: Data(text.utf8), categories: categories)
    }

    @Test func readsItemsAndCategoriesInFileOrder() throws {
        let vocabulary = try Self.vocabulary("item_id,category\r\nb-2,toys\r\na-1,books\r\n")
        #expect(vocabulary.items == ["b-2", "a-1"])
        #expect(vocabulary.categories == ["toys", "books"])
        #expect(vocabulary.index(of: "a-1") == 1)
        #expect(vocabulary.index(of: "unlisted") == vocabulary.otherIndex)
    }

    @Test func theCategoryColumnIsOptional() throws {
        let vocabulary = try Self.vocabulary("item_id\nx\ny")
        #expect(vocabulary.items == ["x", "y"])
        #expect(vocabulary.categories == [nil, nil])
    }

    /// Every rule names the policy key and the line, and never echoes what the line held.
    @Test(arguments: [
        ("", nil as Int?),
        ("id,category\nsecret-a,books\n", 1),
        ("item_id,category\n", nil),
        ("item_id,category\nsecret-a,books,extra\n", 2),
        ("item_id,category\nsecret-a\n", 2),
        ("item_id,category\nsecret-a,books\nsecret-a,toys\n", 3),
        ("item_id,category\nsecret-a,secret-garden\n", 2),
        ("item_id\n\"secret-a\"\n", 2),
        ("item_id\n secret-a\n", 2),
        ("item_id\n\n", 2),
        ("item_id\nsecret-\u{7}a\n", 2),
    ])
    func brokenCataloguesAreRefusedByLine(text: String, line: Int?) throws {
        let error = try #require(throws: VeilError.self) { try Self.vocabulary(text) }
        #expect(error.code == .invalidInput)
        #expect(error.field == "catalog.items_file")
        if let line { #expect(error.message.hasPrefix("line \(line): ")) }
        #expect(!error.message.contains("secret"))
    }

    @Test func notUTF8IsRefused() throws {
        let error = try #require(throws: VeilError.self) {
            try ItemVocabulary(catalogCSV: Data([0x69, 0x74, 0xFF, 0xFE]), categories: Self.categories)
        }
        #expect(error.field == "catalog.items_file")
    }

    @Test func anOverlongItemIDIsRefused() throws {
        let long = String(repeating: "s", count: ItemVocabulary.maxItemIDBytes + 1)
        let error = try #require(throws: VeilError.self) { try Self.vocabulary("item_id\nok\n\(long)\n") }
        #expect(error.message.hasPrefix("line 3: "))
        #expect(!error.message.contains(long))
    }
}
