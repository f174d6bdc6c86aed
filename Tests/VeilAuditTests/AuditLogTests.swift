import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto

@Suite struct AuditLogTests {
    let key = SigningKey.generate()

    @Test func appendThenVerifyRoundTrip() throws {
        let directory = try ScratchDirectory()
        let (log, lines) = try writeLog(count: 5, key: key, in: directory)
        #expect(lines.count == 5)
        let result = verify(lines, key)
        #expect(result.isValid)
        #expect(result.recordsChecked == 5)
        #expect(try log.head() == result.head)
        #expect(result.head.seq == 5)
        #expect(!result.epsilon.performed)
    }

    @Test func bodyHasSortedKeysAndTheRequiredFields() throws {
        let directory = try ScratchDirectory()
        let fixed = Date(timeIntervalSince1970: 1_800_000_000.25)
        let log = try AuditLog(path: directory.file("audit.log"), signingKey: key, clock: .fixed(fixed))
        let seq = try log.record(actor: "analyst-1", action: .budgetSpend, details: ["b": 1, "a": ["z": true, "y": .null]])
        #expect(seq == 1)
        let line = try #require(try readLines(log.path).first)
        let parsed = try AuditLine.parse(line).get()
        #expect(parsed.body == #"{"action":"budget.spend","actor":"analyst-1","details":{"a":{"y":null,"z":true},"b":1},"seq":1,"time":"2027-01-15T08:00:00.250Z"}"#)
        #expect(parsed.hash == AuditChain.link(previous: AuditChain.genesis, body: parsed.body))
        #expect(key.publicKey.isValidSignature(parsed.signature, for: parsed.hash))
        #expect(line.hasPrefix(#"{"body":"#))
    }

    @Test func reopeningContinuesTheChain() throws {
        let directory = try ScratchDirectory()
        _ = try writeLog(count: 3, key: key, in: directory)
        let reopened = try AuditLog(dataDirectory: directory.path, signingKey: key)
        #expect(try reopened.head().seq == 3)
        #expect(try reopened.record(actor: "cli", action: .named("test.more"), details: [:]) == 4)
        #expect(verify(try readLines(reopened.path), key).isValid)
    }

    @Test func anotherWriterIsNoticed() throws {
        let directory = try ScratchDirectory()
        let first = try AuditLog(dataDirectory: directory.path, signingKey: key)
        let second = try AuditLog(dataDirectory: directory.path, signingKey: key)  // as another process would
        #expect(try first.record(actor: "cli", action: .named("a.one"), details: [:]) == 1)
        #expect(try second.record(actor: "cli", action: .named("a.two"), details: [:]) == 2)
        #expect(try first.record(actor: "cli", action: .named("a.three"), details: [:]) == 3)
        #expect(verify(try readLines(first.path), key).isValid)
    }

    @Test func concurrentAppendsYieldAValidChain() async throws {
        let directory = try ScratchDirectory()
        let logs = [try AuditLog(dataDirectory: directory.path, signingKey: key), try AuditLog(dataDirectory: directory.path, signingKey: key)]
        let tasks = 8
        let perTask = 10
        let seqs = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    try (0..<perTask).map { index in
                        try logs[task % 2].record(actor: "worker-\(task)", action: .named("test.concurrent"), details: ["i": .int(Int64(index))])
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(seqs.sorted() == (1...UInt64(tasks * perTask)).map { $0 })
        let result = verify(try readLines(logs[0].path), key)
        #expect(result.isValid)
        #expect(result.recordsChecked == tasks * perTask)
    }

    @Test func tornTailIsCutBeforeTheNextAppend() throws {
        let directory = try ScratchDirectory()
        let (log, _) = try writeLog(count: 2, key: key, in: directory)
        let handle = try #require(FileHandle(forWritingAtPath: log.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"body":"{\"act"#.utf8))  // a write that never completed
        try handle.close()
        #expect(try log.record(actor: "cli", action: .named("test.after_crash"), details: [:]) == 3)
        let result = verify(try readLines(log.path), key)
        #expect(result.isValid)
        #expect(result.recordsChecked == 3)
    }

    @Test func refusesToExtendALogSignedByAnotherKey() throws {
        let directory = try ScratchDirectory()
        _ = try writeLog(count: 1, key: key, in: directory)
        let error = #expect(throws: VeilError.self) { try AuditLog(dataDirectory: directory.path, signingKey: SigningKey.generate()) }
        #expect(error?.code == .integrity)
    }

    @Test func rejectsBadActorActionAndDetails() throws {
        let directory = try ScratchDirectory()
        let log = try AuditLog(dataDirectory: directory.path, signingKey: key)
        #expect(throws: VeilError.self) { try log.record(actor: "", action: .named("a.b"), details: [:]) }
        #expect(AuditAction(rawValue: "Bad Action") == nil)
        #expect(AuditAction(rawValue: "budget.spend") == .budgetSpend)
        #expect(throws: VeilError.self) { try log.record(actor: "cli", action: .named("a.b"), details: ["x": .double(.nan)]) }
        #expect(try log.head() == .empty)
    }
}
