import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto

/// `AuditSigner` seals records in the documented format; `AuditMirror` keeps `audit.log`: appends
/// what continues its head, skips what it holds, refuses gaps and other stories, cuts torn tails.
@Suite struct AuditMirrorTests {
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
        let fixed = Date(timeIntervalSince1970: 1_800_000_000.25)
        let record = try AuditSigner(signingKey: key, clock: .fixed(fixed)).seal(
            AuditDraft(actor: "analyst-1", action: .budgetSpend, details: ["b": 1, "a": ["z": true, "y": .null]]), after: .empty)
        #expect(record.seq == 1)
        let parsed = try AuditLine.parse(record.line).get()
        #expect(parsed.body == #"{"action":"budget.spend","actor":"analyst-1","details":{"a":{"y":null,"z":true},"b":1},"seq":1,"time":"2027-01-15T08:00:00.250Z"}"#)
        #expect(parsed.hash == AuditChain.link(previous: AuditChain.genesis, body: parsed.body))
        #expect(record.hash == parsed.hash)
        #expect(key.publicKey.isValidSignature(parsed.signature, for: parsed.hash))
        #expect(record.line.hasPrefix(#"{"body":"#))
        #expect(!record.line.contains("\n"))
    }

    @Test func reopeningContinuesTheChain() throws {
        let directory = try ScratchDirectory()
        _ = try writeLog(count: 3, key: key, in: directory)
        let reopened = try TestLog(dataDirectory: directory.path, signingKey: key)
        #expect(try reopened.head().seq == 3)
        #expect(try reopened.record(actor: "cli", action: .named("test.more"), details: [:]) == 4)
        #expect(verify(try readLines(reopened.path), key).isValid)
    }

    /// Two processes bring the mirror up to date from the same store: what one appended, the other skips.
    @Test func recordsAlreadyMirroredAreSkippedAndAGapIsRefused() throws {
        let directory = try ScratchDirectory()
        let signer = AuditSigner(signingKey: key)
        var records: [SealedAuditRecord] = []
        var head = AuditHead.empty
        for index in 0..<5 {
            let record = try signer.seal(AuditDraft(actor: "cli", action: .queryRun, details: ["n": .int(Int64(index))]), after: head)
            records.append(record)
            head = record.head
        }
        let first = try AuditMirror(path: AuditMirror.path(dataDirectory: directory.path), publicKey: key.publicKey)
        let second = try AuditMirror(path: AuditMirror.path(dataDirectory: directory.path), publicKey: key.publicKey)
        #expect(try first.append(Array(records[0..<3])) == records[2].head)
        #expect(try second.append(records) == records[4].head)
        #expect(try first.append(Array(records[1..<5])) == records[4].head)
        #expect(try readLines(first.path) == records.map(\.line))
        // Not continuing the head: refused, nothing written.
        let later = try signer.seal(AuditDraft(actor: "cli", action: .queryRun, details: [:]), after: AuditHead(seq: 6, hash: records[4].hash))
        let gap = #expect(throws: VeilError.self) { try first.append([later]) }
        #expect(gap?.code == .integrity)
        // Another record at the head's seq: the mirror and the store tell different stories.
        let other = try signer.seal(AuditDraft(actor: "cli", action: .modelScore, details: [:]), after: records[3].head)
        let story = #expect(throws: VeilError.self) { try first.append([other]) }
        #expect(story?.message.contains("different stories") == true)
        #expect(try readLines(first.path).count == 5)
    }

    @Test func tornTailIsCutBeforeTheNextAppend() throws {
        let directory = try ScratchDirectory()
        let (log, _) = try writeLog(count: 2, key: key, in: directory)
        let handle = try #require(FileHandle(forWritingAtPath: log.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"body":"{\"act"#.utf8))  // a write that never completed
        try handle.close()
        #expect(try log.head().seq == 2)
        #expect(try log.record(actor: "cli", action: .named("test.after_crash"), details: [:]) == 3)
        let result = verify(try readLines(log.path), key)
        #expect(result.isValid)
        #expect(result.recordsChecked == 3)
    }

    @Test func refusesAMirrorSignedByAnotherKeyNamingTheFile() throws {
        let directory = try ScratchDirectory()
        let (log, _) = try writeLog(count: 1, key: key, in: directory)
        let mirror = try AuditMirror(path: log.path, publicKey: SigningKey.generate().publicKey)
        let error = #expect(throws: VeilError.self) { try mirror.head() }
        #expect(error?.code == .integrity)
        #expect(error?.field == log.path)
        #expect(error?.message.contains("audit.pub") == true)
    }

    @Test func rejectsBadActorActionAndDetails() throws {
        let signer = AuditSigner(signingKey: key)
        #expect(throws: VeilError.self) { try signer.seal(AuditDraft(actor: "", action: .named("a.b"), details: [:]), after: .empty) }
        #expect(throws: VeilError.self) {
            try signer.seal(AuditDraft(actor: "two\nlines", action: .named("a.b"), details: [:]), after: .empty)
        }
        #expect(AuditAction(rawValue: "Bad Action") == nil)
        #expect(AuditAction(rawValue: "budget.spend") == .budgetSpend)
        #expect(throws: VeilError.self) {
            try signer.seal(AuditDraft(actor: "cli", action: .named("a.b"), details: ["x": .double(.nan)]), after: .empty)
        }
    }
}
