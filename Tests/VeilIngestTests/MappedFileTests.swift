import Foundation
import Testing

@testable import VeilIngest

/// An import's memory does not grow with its file (issue 18): the reader gives the pages of the mapped
/// file it has read back to the kernel as it goes, so what stays resident of a file is about
/// `RecordReader.releaseStride`, whatever its size.
@Suite struct MappedFileTests {
    /// A 40 MiB NDJSON file of 10,240 lines of 4 KiB (few lines, so the debug parser is quick).
    static func largeFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("veil-mapped-\(UUID().uuidString).ndjson").path
        let line = #"{"event_id":"e","note":""# + String(repeating: "x", count: 4096 - 27) + "\"}\n"
        #expect(line.utf8.count == 4096)
        let block = String(repeating: line, count: 256)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        for _ in 0..<40 { try handle.write(contentsOf: Data(block.utf8)) }
        try handle.close()
        return path
    }

    /// The resident bytes of the mapping that starts at `address` (`Rss` in /proc/self/smaps).
    static func residentBytes(ofMappingAt address: UnsafeRawPointer) throws -> Int {
        let start = String(UInt(bitPattern: address), radix: 16)
        // /proc files report no size: read them to the end rather than by their size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inMapping = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line[..<dash].allSatisfy(\.isHexDigit) {
                inMapping = line[..<dash].drop(while: { $0 == "0" }) == start[...]
            } else if inMapping, line.hasPrefix("Rss:") {
                let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? -1
                return kilobytes * 1024
            }
        }
        Issue.record("no mapping at \(start) in /proc/self/smaps")
        return -1
    }

    @Test func readingAFileKeepsOnlyTheLastStretchResident() throws {
        let path = try Self.largeFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try MappedFile(path: path)
        let base = try #require(file.bytes.baseAddress)
        var reader = RecordReader(ndjson: file.bytes, releasing: file)
        var records = 0
        while reader.next() != nil { records += 1 }
        #expect(records == 10_240)
        let resident = try Self.residentBytes(ofMappingAt: base)
        // Without the release the whole 40 MiB stays resident.
        #expect(resident >= 0 && resident <= RecordReader.releaseStride + (1 << 20))
    }

    /// Splitting a file for parallel validation counts the lines of every segment but the last (for
    /// their first line numbers); the pages it reads are given back behind the count. (Before, the
    /// count kept them: a 5 M-event import's peak memory held the whole file.)
    @Test func splittingAFileIntoSegmentsKeepsOnlyAStretchResident() throws {
        let path = try Self.largeFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try MappedFile(path: path)
        let base = try #require(file.bytes.baseAddress)
        let segments = RecordReader.segments(file.bytes, from: 0, firstLine: 1, parts: 2, releasing: file)
        let resident = try Self.residentBytes(ofMappingAt: base)
        // Without the release the first segment's 20 MiB stay resident.
        #expect(resident >= 0 && resident <= RecordReader.releaseStride + (1 << 20))
        #expect(segments.count == 2)
        #expect(segments.first?.range.lowerBound == 0 && segments.last?.range.upperBound == file.bytes.count)
        if let first = segments.first, let second = segments.last {
            #expect(first.range.upperBound == second.range.lowerBound)
            #expect(second.firstLine == 1 + RecordReader.newlines(file.bytes, first.range))
        }
    }

    @Test func releasedPagesReadTheSameBytesAgain() throws {
        let path = try Self.largeFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try MappedFile(path: path)
        let contents = try Data(contentsOf: URL(fileURLWithPath: path))
        var touched = 0
        for offset in stride(from: 0, to: file.bytes.count, by: MappedFile.pageSize) { touched &+= Int(file.bytes[offset]) }
        #expect(touched > 0)  // every page resident
        let released = file.release(from: 1, to: file.bytes.count)
        #expect(released == file.bytes.count / MappedFile.pageSize * MappedFile.pageSize)
        #expect(try Self.residentBytes(ofMappingAt: file.bytes.baseAddress!) <= MappedFile.pageSize)
        #expect(Data(file.bytes) == contents)
    }
}
